# Sends one message with the mail gem (Debian's ruby-mail; what Rails'
# ActionMailer delivers through), configured as a newcomer would: address
# and port alone, plus what a TLS port needs. enable_starttls_auto stays on
# (STARTTLS whenever offered) and certificates are verified by OpenSSL's
# defaults: trust comes from SSL_CERT_FILE. Run by server/matrix_test.go:
#   ruby ruby_send.rb HOST PORT TO [starttls|implicit] [USER]
require "mail"

host, port, to, tls, user = ARGV
settings = { address: host, port: Integer(port) }
settings[:tls] = true if tls == "implicit"
settings.merge!(user_name: user, password: "secret", authentication: :plain) if user && !user.empty?

mail = Mail.new do
  from "app@example.test"
  to to
  subject "matrix ruby mail"
  body "sent by the mail gem"
end
mail.delivery_method :smtp, settings
mail.deliver!
puts "sent"
