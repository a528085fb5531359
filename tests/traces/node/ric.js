#!/usr/bin/env node
// ric.js — a minimal Lambda runtime interface client: loads HANDLER
// ("file.export", resolved from RIC_TASK_ROOT) and serves invocations from the
// Runtime API, the way AWS's Node runtime does (context object, JSON event,
// response or error). Before loading the handler it points the tracer at
// forkcap's trace port, read from FORKCAP_STATS_FILE (tests bind port 0).
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const [host, port] = api.split(':');

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method, path: p, headers: headers || {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

function ports() {
  for (;;) {
    try { const p = JSON.parse(fs.readFileSync(process.env.FORKCAP_STATS_FILE, 'utf8')).ports; if (p && p.apm) return p; } catch (e) { /* not yet */ }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
}

async function main() {
  const p = ports();
  process.env.DD_TRACE_AGENT_PORT = String(p.apm);
  process.env.DD_TRACE_AGENT_HOSTNAME = '127.0.0.1';
  process.env.DD_DOGSTATSD_PORT = String(p.dogstatsd);
  const [file, fn] = process.env.HANDLER.split('.');
  const handler = require(path.join(process.env.RIC_TASK_ROOT, file))[fn];
  for (;;) {
    const next = await call('GET', '/2018-06-01/runtime/invocation/next');
    const rid = next.headers['lambda-runtime-aws-request-id'];
    const deadline = Number(next.headers['lambda-runtime-deadline-ms']);
    const arn = next.headers['lambda-runtime-invoked-function-arn'];
    const context = {
      awsRequestId: rid, invokedFunctionArn: arn, functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST',
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '128',
      logGroupName: '/aws/lambda/' + process.env.AWS_LAMBDA_FUNCTION_NAME, logStreamName: 'sim',
      getRemainingTimeInMillis: () => deadline - Date.now(), callbackWaitsForEmptyEventLoop: true,
    };
    try {
      const out = await handler(JSON.parse(next.body || '{}'), context);
      await call('POST', `/2018-06-01/runtime/invocation/${rid}/response`, JSON.stringify(out === undefined ? null : out),
        { 'Content-Type': 'application/json' });
    } catch (e) {
      await call('POST', `/2018-06-01/runtime/invocation/${rid}/error`, JSON.stringify({ errorType: e.name, errorMessage: e.message }),
        { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': 'Unhandled' });
    }
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
