// Runs Logto's AWS SES connector (@logto/connector-aws-ses, pinned by package-lock.json) the way
// Logto does, against the SES sink whose URL is in AWS_ENDPOINT_URL_SESV2, and prints one JSON
// result line in sesbench's format. Usage: node bench.mjs CONCURRENCY DURATION_MS CODE_START [PAUSE_MS]
// With PAUSE_MS, CONCURRENCY independent users each pause an exponential time of that mean
// before every send (sesbench -realistic's users); without, they send back to back.
import createAwsSesConnector from '@logto/connector-aws-ses';

const [concurrency, durationMs, codeStart, pauseMs = 0] = process.argv.slice(2).map(Number);
const pause = () => new Promise((resolve) => setTimeout(resolve, -Math.log(1 - Math.random()) * pauseMs));
const endpoint = process.env.AWS_ENDPOINT_URL_SESV2;
const config = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  accessKeySecret: 'fake-secret-for-benchmarks',
  region: 'us-east-1',
  emailAddress: 'Acme <noreply@acme.example>',
  templates: ['SignIn', 'Register', 'ForgotPassword', 'Generic'].map((usageType) => ({
    usageType,
    subject: 'Your Acme sign-in code is {{code}}',
    content: '<p>Your Acme sign-in verification code is <b>{{code}}</b>. It expires in 10 minutes.</p>',
  })),
};
const connector = await createAwsSesConnector({ getConfig: async () => config });

let next = codeStart;
const send = async () => {
  const code = next++;
  const start = process.hrtime.bigint();
  await connector.sendMessage({ to: 'user@example.com', type: 'SignIn', payload: { code: String(code) } }, config);
  return [code, Number(process.hrtime.bigint() - start) / 1000];
};

const run = async (ms, record) => {
  const deadline = Date.now() + ms;
  const worker = async () => {
    while (Date.now() < deadline) {
      if (pauseMs > 0) await pause();
      const [code, us] = await send();
      record(code, us);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
};

await run(300, () => {}); // warm-up, not counted
await fetch(`${endpoint}/reset`);

const latencies = [];
let codeSum = 0;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await run(durationMs, (code, us) => {
  latencies.push(us);
  codeSum += code;
});
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const busyMicros = latencies.reduce((a, b) => a + b, 0);
const cpu = process.cpuUsage(cpu0);
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
console.log(JSON.stringify({
  sends: latencies.length,
  seconds,
  p50Micros: pct(0.5),
  p99Micros: pct(0.99),
  cpuMicros: cpu.user + cpu.system,
  allocs: -1,
  maxRSSKiB: process.resourceUsage().maxRSS,
  codeSum,
  inFlight: busyMicros / 1e6 / seconds,
}));
