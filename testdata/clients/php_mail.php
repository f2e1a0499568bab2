<?php
// Sends one message with PHP's mail(), which hands it to the program in
// sendmail_path; server/matrix_test.go points that at msmtp, relaying to
// mailsink: php -d sendmail_path='msmtp --host=HOST --port=PORT --read-envelope-from -t' php_mail.php TO
$to = $argv[1];
if (!mail($to, 'matrix php mail()', 'sent by mail()', 'From: app@example.test')) {
    fwrite(STDERR, "mail() returned false\n");
    exit(1);
}
echo "sent\n";
