// statsd_runtime.js — a Lambda runtime (Runtime API over HTTP) whose
// function does what a Node.js function instrumented the usual way does
// over DogStatsD: custom metrics sent by the hot-shots client (a counter, a
// gauge, a histogram and a distribution, each with its own tags; buffered,
// so several lines share a datagram, and flushed by closing the client
// before the invocation answers), and, like datadog-lambda-js, its own
// aws.lambda.enhanced.invocations distribution per invocation, tagged
// datadog_lambda:v<version> (a line hot-shots itself never sends). One log
// line per event.
// Environment: AWS_LAMBDA_RUNTIME_API; FORKCAP_STATS_FILE, where the
// extension reports the DogStatsD port it bound (tests bind port 0);
// STATSD_CLIENT=hot-shots sends the custom metrics through the real client
// (NODE_PATH must reach the package; a missing package fails the runtime),
// otherwise the same four metrics go out as the DogStatsD lines hot-shots
// would write (for tests about something else, which need no npm);
// HOTSHOTS_TAGS_FILE, when set, receives the global tags the client derived
// from the environment.
'use strict';
const http = require('http');
const dgram = require('dgram');
const fs = require('fs');
const useHotShots = process.env.STATSD_CLIENT === 'hot-shots';
const { StatsD } = useHotShots ? require('hot-shots') : {};

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const sock = dgram.createSocket('udp4');
let port = 0;

// The extension registered before the runtime started, so its stats file
// names the port already; read it again briefly in case it is being replaced.
async function statsdPort() {
    for (let i = 0; i < 200; i++) {
        try {
            const p = JSON.parse(fs.readFileSync(process.env.FORKCAP_STATS_FILE, 'utf8')).ports.dogstatsd;
            if (p > 0) return p;
        } catch (e) { /* not written yet */ }
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no DogStatsD port in FORKCAP_STATS_FILE');
}

function send(lines) {
    return new Promise((resolve, reject) =>
        sock.send(Buffer.from(lines.join('\n')), port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
}

// The function's custom metrics through hot-shots as an application sets it
// up (its defaults otherwise, whatever they add from the environment). The
// buffer outlives the invocation's sends, so close() flushes them as one
// datagram, and its callback runs once the socket has sent it.
function customMetrics(n) {
    if (!useHotShots)
        return send(['shop.orders:1|c|#own:order,kind:web', `shop.queue:${n}|g|#own:queue`,
                     `shop.latency:${10 + n}|h|#own:latency`, `shop.basket:${20 + n}|d|#own:basket`]);
    return new Promise((resolve, reject) => {
        let failed = null;
        const client = new StatsD({ host: '127.0.0.1', port, maxBufferSize: 1400, bufferFlushInterval: 60000,
                                    errorHandler: (e) => { failed = failed || e; } });
        // the tags the client adds on its own (from DD_TAGS, DD_ENV,
        // DD_SERVICE, DD_VERSION), for the test to tell them from forkcap's
        if (n === 1 && process.env.HOTSHOTS_TAGS_FILE)
            fs.writeFileSync(process.env.HOTSHOTS_TAGS_FILE, client.globalTags.join('\n') + '\n');
        client.increment('shop.orders', 1, ['own:order', 'kind:web']);
        client.gauge('shop.queue', n, { own: 'queue' });
        client.histogram('shop.latency', 10 + n, ['own:latency']);
        client.distribution('shop.basket', 20 + n, ['own:basket']);
        client.close((e) => (e || failed ? reject(e || failed) : resolve()));
    });
}

function request(method, path, body) {
    return new Promise((resolve, reject) => {
        const [host, p] = api.split(':');
        const req = http.request({ host, port: Number(p), method, path,
                                   headers: body ? { 'Content-Type': 'application/json' } : {} },
            (res) => {
                let data = '';
                res.on('data', (c) => (data += c));
                res.on('end', () => resolve({ headers: res.headers, body: data }));
            });
        req.on('error', reject);
        if (body) req.write(body);
        req.end();
    });
}

async function main() {
    port = await statsdPort();
    for (let n = 1; ; n++) {
        const ev = await request('GET', '/2018-06-01/runtime/invocation/next');
        const rid = ev.headers['lambda-runtime-aws-request-id'];
        // a client per invocation, closed (so flushed) before the response
        await customMetrics(n);
        // datadog-lambda-js: its own copy of the invocation count
        await send([`aws.lambda.enhanced.invocations:1|d|#functionname:${process.env.AWS_LAMBDA_FUNCTION_NAME},` +
                    `region:${process.env.AWS_REGION},datadog_lambda:v9.115.0`]);
        console.log(`${rid} handled event ${n}`);
        await request('POST', `/2018-06-01/runtime/invocation/${rid}/response`, '{"ok":true}');
    }
}

main().catch((e) => {
    console.error(`runtime error: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
});
