// handler.js — a Node function instrumented the way Datadog documents it:
// dd-trace initialised, the handler wrapped by datadog-lambda-js, a custom
// span inside, one log line (datadog-lambda-js adds dd.trace_id to it).
'use strict';
const tracer = require('dd-trace').init();
const { datadog } = require('datadog-lambda-js');

async function work(event, context) {
  await tracer.trace('forkcap.test.work', { resource: 'work' }, async () => {
    await new Promise((r) => setTimeout(r, 2));
  });
  console.log(`handled ${context.awsRequestId}`);
  return { ok: true };
}

module.exports.handler = datadog(work);
