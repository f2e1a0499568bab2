package smtpd

import "testing"

// BenchmarkReplyCounter is what counting costs each SMTP reply (the
// metrics' only work on the SMTP path), with every core counting on one
// listener at once.
func BenchmarkReplyCounter(b *testing.B) {
	var c counters
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.reply(250)
		}
	})
	if c.replies[250].Load() == 0 {
		b.Fatal("nothing counted")
	}
}
