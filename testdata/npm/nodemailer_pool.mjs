// Sends COUNT messages through one nodemailer pool, at most RATE per second
// when RATE is above 0 (nodemailer's rateLimit and rateDelta, the way an
// application keeps under a provider's sending rate). Prints one line per
// message: "ok" or the error's response code. Run by
// server/stateful_faults_test.go:
//   node nodemailer_pool.mjs HOST PORT COUNT RATE
import nodemailer from "nodemailer";

const [host, port, count, rate] = process.argv.slice(2);
const options = { host, port: Number(port), pool: true, maxConnections: 1 };
if (Number(rate) > 0) Object.assign(options, { rateLimit: Number(rate), rateDelta: 1000 });
const transport = nodemailer.createTransport(options);
const results = await Promise.all(Array.from({ length: Number(count) }, (_, i) =>
  transport.sendMail({ from: "app@example.test", to: "user@example.test", subject: `pool ${i}`, text: `message ${i}` })
    .then(() => "ok", (err) => String(err.responseCode ?? err.code))));
transport.close();
console.log(results.join("\n"));
