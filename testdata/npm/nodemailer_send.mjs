// Sends one message with nodemailer, configured as a newcomer would: host
// and port alone, plus what a TLS port needs (secure: true for implicit TLS,
// a login). Certificates are verified as nodemailer does by default: trust
// comes from NODE_EXTRA_CA_CERTS. Run by server/matrix_test.go:
//   node nodemailer_send.mjs HOST PORT TO [starttls|implicit] [USER]
import nodemailer from "nodemailer";

const [host, port, to, tls = "", user = ""] = process.argv.slice(2);
const options = { host, port: Number(port) };
if (tls === "implicit") options.secure = true;
if (user) options.auth = { user, pass: "secret" };
const info = await nodemailer.createTransport(options).sendMail({
  from: "app@example.test",
  to,
  subject: "matrix nodemailer",
  text: "sent by nodemailer",
});
console.log(info.response);
