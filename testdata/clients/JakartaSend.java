// Sends one message with Jakarta Mail (Debian's libjakarta-mail-java),
// configured as a newcomer would: mail.smtp.host and mail.smtp.port, plus
// what a TLS port needs. Certificates are verified against the JVM's trust
// store: trust comes from a keytool-imported store
// (-Djavax.net.ssl.trustStore). Run by server/matrix_test.go with Java's
// source launcher:
//   java -cp /usr/share/java/jakarta-mail.jar:/usr/share/java/jakarta-activation.jar JakartaSend.java HOST PORT TO [starttls|implicit] [USER]
import jakarta.mail.Authenticator;
import jakarta.mail.Message;
import jakarta.mail.PasswordAuthentication;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.MimeMessage;
import java.util.Properties;

public class JakartaSend {
    public static void main(String[] args) throws Exception {
        String host = args[0], port = args[1], to = args[2];
        String tls = args.length > 3 ? args[3] : "";
        String user = args.length > 4 ? args[4] : "";

        Properties props = new Properties();
        props.put("mail.smtp.host", host);
        props.put("mail.smtp.port", port);
        if (tls.equals("starttls")) {
            props.put("mail.smtp.starttls.enable", "true");
            props.put("mail.smtp.starttls.required", "true");
        } else if (tls.equals("implicit")) {
            props.put("mail.smtp.ssl.enable", "true");
        }
        if (!tls.isEmpty()) {
            props.put("mail.smtp.ssl.checkserveridentity", "true"); // the name too, not only the chain
        }
        Authenticator auth = null;
        if (!user.isEmpty()) {
            props.put("mail.smtp.auth", "true");
            auth = new Authenticator() {
                @Override
                protected PasswordAuthentication getPasswordAuthentication() {
                    return new PasswordAuthentication(user, "secret");
                }
            };
        }
        MimeMessage msg = new MimeMessage(Session.getInstance(props, auth));
        msg.setFrom("app@example.test");
        msg.setRecipients(Message.RecipientType.TO, to);
        msg.setSubject("matrix jakarta mail");
        msg.setText("sent by Jakarta Mail");
        Transport.send(msg);
        System.out.println("sent");
    }
}
