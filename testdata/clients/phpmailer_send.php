<?php
// Sends one message with PHPMailer (Debian's libphp-phpmailer) over SMTP,
// configured as a newcomer would: isSMTP(), Host and Port, and only what a
// TLS port needs. SMTPAutoTLS stays on (STARTTLS whenever offered), and
// certificates are verified by PHP's OpenSSL defaults: trust comes from
// SSL_CERT_FILE. Run by server/matrix_test.go:
//   php phpmailer_send.php HOST PORT TO [starttls|implicit] [USER]
require '/usr/share/php/libphp-phpmailer/autoload.php';

use PHPMailer\PHPMailer\PHPMailer;

[, $host, $port, $to] = $argv;
$tls = $argv[4] ?? '';
$user = $argv[5] ?? '';

$mail = new PHPMailer(true); // throw on failure: a non-zero exit
$mail->isSMTP();
$mail->Host = $host;
$mail->Port = (int) $port;
if ($tls === 'starttls') {
    $mail->SMTPSecure = PHPMailer::ENCRYPTION_STARTTLS;
} elseif ($tls === 'implicit') {
    $mail->SMTPSecure = PHPMailer::ENCRYPTION_SMTPS;
}
if ($user !== '') {
    $mail->SMTPAuth = true;
    $mail->Username = $user;
    $mail->Password = 'secret';
}
$mail->setFrom('app@example.test');
$mail->addAddress($to);
$mail->Subject = 'matrix phpmailer';
$mail->Body = 'sent by PHPMailer';
$mail->send();
echo "sent\n";
