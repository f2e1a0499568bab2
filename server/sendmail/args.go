package sendmail

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Sendmail's command line is getopt's, with letters that take a value
// glued on or as the next argument ("-fme@x" or "-f me@x", "-oi", "-odi",
// "-bm", "-FCronDaemon"). The letters below take a value; any other letter
// is a switch. Those that change nothing for a sink (-odi delivery mode,
// -oem error mode, -B8BITMIME, -N dsn, -R, -V, -X, -C, -h ...) are read and
// ignored, as sendmail's replacements (Postfix, Exim, msmtp) ignore them.
const valueLetters = "ABCFLMNORSVXbdfhopr"

// parseArgs reads the command line.
func parseArgs(args []string) (request, error) {
	var req request
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			req.rcpts = append(req.rcpts, args[i+1:]...)
			return req, nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			switch name {
			case "help":
				req.help = true
				continue
			case "smtp-addr", "from": // mailsink's and Mailpit's long forms
			default:
				return req, fmt.Errorf("unknown option --%s (see --help)", name)
			}
			if !hasVal {
				if i+1 >= len(args) {
					return req, fmt.Errorf("--%s needs a value", name)
				}
				i++
				val = args[i]
			}
			if name == "smtp-addr" {
				req.addr = val
			} else {
				req.sender, req.senderSet = val, true
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				letter := a[j]
				if !strings.ContainsRune(valueLetters, rune(letter)) {
					if err := req.flag(letter); err != nil {
						return req, err
					}
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return req, fmt.Errorf("-%c needs a value", letter)
					}
					i++
					val = args[i]
				}
				if err := req.option(letter, val); err != nil {
					return req, err
				}
				break // the rest of the argument was the value
			}
		default:
			req.rcpts = append(req.rcpts, a)
		}
	}
	return req, nil
}

// flag applies a switch.
func (r *request) flag(letter byte) error {
	switch letter {
	case 't':
		r.fromHeader = true
	case 'i':
		r.ignoreDots = true
	case 'v':
		r.verbose = true
	case 'q':
		r.queueRun = true
	}
	return nil // -m, -n, -e, -U, -G, -I ...: nothing to do
}

// option applies a letter that takes a value.
func (r *request) option(letter byte, val string) error {
	switch letter {
	case 'f', 'r':
		r.sender, r.senderSet = val, true
	case 'F':
		r.fullName = val
	case 'S': // Mailpit's sendmail: the SMTP server
		r.addr = val
	case 'o': // -oi: IgnoreDots; -odi, -oem, -oQ...: ignored
		if strings.HasPrefix(val, "i") {
			r.ignoreDots = true
		}
	case 'O': // -O IgnoreDots=true
		if k, v, _ := strings.Cut(val, "="); strings.EqualFold(k, "IgnoreDots") {
			b, err := strconv.ParseBool(v)
			if v == "" {
				b, err = true, nil
			}
			if err != nil {
				return fmt.Errorf("-O %s: want true or false", val)
			}
			r.ignoreDots = b
		}
	case 'b':
		switch val {
		case "m": // deliver mail: what it does anyway
		case "s":
			r.smtpMode = true
		default:
			return fmt.Errorf("-b%s is not supported: mailsink's sendmail submits a message (-bm) or relays an SMTP session (-bs)", val)
		}
	}
	return nil
}

func usage(w io.Writer, name string) {
	fmt.Fprintf(w, `Usage: %s [flags] [recipient ...] < message

Submits the message on standard input to mailsink over SMTP, like sendmail.

  -t              read recipients from the To, Cc and Bcc headers (Bcc is removed)
  -f, -r ADDR     envelope sender (default: %s, else USER@HOSTNAME)
  -F NAME         full name for the From header added when the message has none
  -i, -oi         a line holding only "." does not end the message
  -bs             relay an SMTP session on standard input and output to mailsink
  -v              print the SMTP conversation on standard error
  --smtp-addr, -S HOST:PORT
                  mailsink's SMTP listener (default: %s, else %s)

Recipients are the arguments, and with -t (or without arguments) those of
the header. Date, Message-ID and From are added when missing. Other sendmail
flags (-odi, -oem, -B8BITMIME, -N, -R, -V, -X, -h ...) are accepted and ignored.
Exit status as sendmail's: 64 usage, 65 bad message, 67 recipient refused,
69 message refused, 75 mailsink unreachable or busy (try again).
`, name, EnvFrom, EnvAddr, DefaultAddr)
}
