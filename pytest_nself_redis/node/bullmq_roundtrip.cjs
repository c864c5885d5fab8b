'use strict';
// A real BullMQ round trip against one Redis, for the queue suite of pytest-nself-redis.
//
//   node bullmq_roundtrip.cjs --modules DIR --prefix PREFIX [--jobs N] [--delay-ms D] [--timeout-ms T]
//
// DIR holds node_modules with bullmq and ioredis (`nself-redis node-setup` installs them).
// The connection comes from the environment, so the password never shows in `ps`:
//   NSELF_REDIS_HOST, NSELF_REDIS_PORT, NSELF_REDIS_DB, NSELF_REDIS_USERNAME,
//   NSELF_REDIS_PASSWORD, NSELF_REDIS_TLS (1: TLS, certificate and host name checked against
//   the system's CAs), NSELF_REDIS_TLS_CA (a CA file to check against instead),
//   NSELF_REDIS_TLS_INSECURE (1: nothing checked; only when the user asked for it).
// A producer adds jobs and waits for their results through QueueEvents (streams), a
// worker processes them; then a delayed job and a job that fails once and is retried.
// Every key lives under PREFIX and is obliterated at the end. One JSON object is
// printed on stdout; exit status 0 when every step kept its promise, 1 otherwise.

const path = require('node:path');
const fs = require('node:fs');
const { createRequire } = require('node:module');
const { performance } = require('node:perf_hooks');

function parseArgs(argv) {
  const options = { jobs: 20, delayMs: 400, timeoutMs: 30000, queue: 'roundtrip' };
  for (let index = 0; index < argv.length; index += 2) {
    const [flag, value] = [argv[index], argv[index + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--modules') options.modules = value;
    else if (flag === '--prefix') options.prefix = value;
    else if (flag === '--queue') options.queue = value;
    else if (flag === '--jobs') options.jobs = Number(value);
    else if (flag === '--delay-ms') options.delayMs = Number(value);
    else if (flag === '--timeout-ms') options.timeoutMs = Number(value);
    else throw new Error(`unknown option ${flag}`);
  }
  if (!options.modules || !options.prefix) throw new Error('--modules and --prefix are required');
  return options;
}

const result = { ok: false, stage: 'start', warnings: [], node: process.versions.node };
let finished = false;

function finish(status) {
  if (finished) return;
  finished = true;
  result.ok = status === 0;
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(status));
}

// BullMQ states its requirements with console.warn (e.g. the eviction policy): keep its words.
for (const name of ['warn', 'error']) {
  console[name] = (...parts) => {
    const text = parts.map(String).join(' ').trim();
    if (!result.warnings.includes(text)) result.warnings.push(text);
  };
}

function percentile(sorted, fraction) {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return Math.round(sorted[rank] * 100) / 100;
}

function connectionFromEnv() {
  const env = process.env;
  const connection = {
    host: env.NSELF_REDIS_HOST || '127.0.0.1',
    port: Number(env.NSELF_REDIS_PORT || 6379),
    db: Number(env.NSELF_REDIS_DB || 0),
    // BullMQ's workers block; ioredis must not give up on a blocked command.
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
    // A refused or broken connection is a finding, not something to retry forever.
    retryStrategy: (times) => (times > 3 ? null : 200),
  };
  if (env.NSELF_REDIS_USERNAME) connection.username = env.NSELF_REDIS_USERNAME;
  if (env.NSELF_REDIS_PASSWORD) connection.password = env.NSELF_REDIS_PASSWORD;
  if (env.NSELF_REDIS_TLS === '1') {
    // Node's default checkServerIdentity checks the host name (an IP against IP SANs).
    connection.tls = { rejectUnauthorized: env.NSELF_REDIS_TLS_INSECURE !== '1' };
    if (env.NSELF_REDIS_TLS_CA) connection.tls.ca = fs.readFileSync(env.NSELF_REDIS_TLS_CA);
  }
  return connection;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const load = createRequire(path.join(path.resolve(options.modules), 'package.json'));
  const { Queue, Worker, QueueEvents, Job } = load('bullmq');
  result.bullmq = load('bullmq/package.json').version;
  result.ioredis = load('ioredis/package.json').version;
  const deadline = setTimeout(() => {
    result.error = `timed out after ${options.timeoutMs} ms during ${result.stage}`;
    finish(1);
  }, options.timeoutMs);
  deadline.unref();

  const connection = connectionFromEnv();
  const common = { connection, prefix: options.prefix };
  const started = performance.now();
  const attempts = new Map();
  const workerFailures = [];
  let queue;
  let events;
  let worker;
  try {
    result.stage = 'connect';
    queue = new Queue(options.queue, common);
    queue.on('error', (error) => console.warn(`queue: ${error.message}`));
    // Every waiting producer listens on the queue and its events: not a leak.
    queue.setMaxListeners(options.jobs * 2 + 10);
    await queue.waitUntilReady();
    const client = await queue.client;
    const server = await client.info('server');
    result.redis_version = (server.match(/^redis_version:(.*)$/m) || [])[1]?.trim();
    events = new QueueEvents(options.queue, common);
    events.on('error', (error) => console.warn(`queue events: ${error.message}`));
    events.setMaxListeners(options.jobs * 2 + 10);
    await events.waitUntilReady();
    worker = new Worker(
      options.queue,
      async (job) => {
        const attempt = (attempts.get(job.id) || 0) + 1;
        attempts.set(job.id, attempt);
        if (job.name === 'square') return { n: job.data.n, square: job.data.n * job.data.n };
        if (job.name === 'flaky' && attempt === 1) throw new Error('deliberate failure of the first attempt');
        return { attempt, processedAt: Date.now() };
      },
      { ...common, concurrency: 4 },
    );
    worker.on('error', (error) => console.warn(`worker: ${error.message}`));
    worker.on('failed', (job, error) => workerFailures.push(error.message));
    await worker.waitUntilReady();

    result.stage = 'round trip';
    const latencies = [];
    const outcomes = await Promise.all(
      Array.from({ length: options.jobs }, async (_, n) => {
        const sent = performance.now();
        const job = await queue.add('square', { n });
        const value = await job.waitUntilFinished(events, options.timeoutMs);
        latencies.push(performance.now() - sent);
        return value && value.n === n && value.square === n * n;
      }),
    );
    latencies.sort((a, b) => a - b);
    result.jobs = {
      added: options.jobs,
      completed: outcomes.length,
      correct: outcomes.filter(Boolean).length,
    };
    result.latency_ms = {
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      max: percentile(latencies, 1),
    };

    result.stage = 'delayed job';
    const delayed = await queue.add('delayed', {}, { delay: options.delayMs });
    await delayed.waitUntilFinished(events, options.timeoutMs);
    const delayedDone = await Job.fromId(queue, delayed.id);
    result.delayed = {
      delay_ms: options.delayMs,
      waited_ms: delayedDone.processedOn - delayedDone.timestamp,
      state: await delayedDone.getState(),
    };

    result.stage = 'retry';
    const flaky = await queue.add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
    const flakyValue = await flaky.waitUntilFinished(events, options.timeoutMs);
    const flakyDone = await Job.fromId(queue, flaky.id);
    result.retry = {
      attempts: attempts.get(flaky.id) || 0,
      attempt_seen_by_job: flakyValue && flakyValue.attempt,
      failures: workerFailures.length,
      first_error: (flakyDone.stacktrace && flakyDone.stacktrace[0] ? flakyDone.stacktrace[0] : '')
        .split('\n')[0],
      state: await flakyDone.getState(),
    };

    result.stage = 'cleanup';
    await worker.close();
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
    result.total_ms = Math.round(performance.now() - started);

    const problems = [];
    if (result.jobs.correct !== options.jobs) {
      problems.push(`${options.jobs - result.jobs.correct} of ${options.jobs} jobs came back wrong`);
    }
    if (result.delayed.state !== 'completed' || result.delayed.waited_ms < options.delayMs) {
      problems.push(
        `the delayed job (delay ${options.delayMs} ms) ran after ${result.delayed.waited_ms} ms, ` +
          `state ${result.delayed.state}`,
      );
    }
    if (result.retry.state !== 'completed' || result.retry.attempts !== 2) {
      problems.push(
        `the job failing once was attempted ${result.retry.attempts} times (2 expected), ` +
          `state ${result.retry.state}`,
      );
    }
    if (problems.length) {
      result.error = problems.join('; ');
      finish(1);
      return;
    }
    finish(0);
  } catch (error) {
    result.error = error && error.message ? error.message : String(error);
    for (const closable of [worker, events, queue]) {
      if (closable) closable.close().catch(() => undefined);
    }
    finish(1);
  }
}

main().catch((error) => {
  result.error = error && error.message ? error.message : String(error);
  finish(1);
});
