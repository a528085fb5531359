// statsd_runtime.js — a Lambda runtime (Runtime API over HTTP) whose
// function does what a Node.js function instrumented the usual way does
// over DogStatsD: custom metrics as hot-shots formats them (name:value|type
// with |#tags, several lines per datagram when it buffers), and, like
// datadog-lambda-js, its own aws.lambda.enhanced.invocations distribution
// per invocation, tagged datadog_lambda:v<version>. One log line per event.
// Environment: AWS_LAMBDA_RUNTIME_API; FORKCAP_STATS_FILE, where the
// extension reports the DogStatsD port it bound (tests bind port 0).
'use strict';
const http = require('http');
const dgram = require('dgram');
const fs = require('fs');

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
        // hot-shots: a counter and a histogram buffered into one datagram,
        // then a gauge alone; each with the metric's own tags
        await send([`shop.orders:1|c|#own:order,kind:web`, `shop.latency:${10 + n}|h|#own:latency`]);
        await send([`shop.queue:${n}|g|#own:queue`]);
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
