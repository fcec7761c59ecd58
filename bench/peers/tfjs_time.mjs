#!/usr/bin/env node
// TF.js wasm's side of bench/peers/compare.sh: times one ORIGINAL model (not the ONNX export)
// with @tensorflow/tfjs 4.22.0 on @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD build), the
// runtime face-api / human users run in Node and in browsers without WebGL.
//
//   node bench/peers/tfjs_time.mjs MODEL INPUT.npy [--threads 1] [--seconds S] [--min-iters N]
//        [--warmup N] [--warmup-seconds S] [--out PREFIX] [--outputs NAME,NAME...]
//
// MODEL is either
//   - a TF.js graph model.json (e.g. human-models' blazeface-back.json, emotion.json,
//     gender.json): loaded with tools/reference/run_tfjs.mjs's loadArtifacts (read from disk,
//     nothing fetched), run with model.execute(); INPUT is the graph's NHWC input as is (a
//     graph whose input has a fixed batch of 1, like blazeface-back.json, runs the N images
//     one by one in each timed call: RESULT says batch_loop);
//   - face-api's face_expression_model-weights_manifest.json (or its folder, or `faceapi` for
//     the face-api package in the model cache): loaded with
//     face-api's own loadFromDisk (tools/reference/run_faceapi.mjs's loadFaceApi) and run with
//     faceExpressionNet.forwardInput(toNetInput(images)), i.e. face-api's own preprocessing
//     (pad to square, resize to 112 if needed, subtract the RGB mean, divide by 255) on an
//     array of N [112,112,3] images, as face-api does for N faces; INPUT is RGB 0..255.
//
// The .wasm binaries are the ones in the installed @tensorflow/tfjs-backend-wasm package
// (setWasmPaths to its dist/ folder). SIMD is used when WebAssembly SIMD validates (it does in
// Node >= 16). Threads: TF.js wasm runs on one thread in Node, and --threads N > 1 is an
// error (exit 2). The backend hard-codes WASM_HAS_MULTITHREAD_SUPPORT = false under Node
// (tfjs#3830). Forcing the flag on makes the threaded-SIMD build fail at start: its pthread
// workers are blob: URLs, which node:worker_threads refuses. Shimming those (worker and main
// script written to files) lets it start, but setThreadsCount(2..8) still gives
// getThreadsCount() = 1 (XNNPACK's pool gets no threads), so it was left out.
//
// A call is timed from before execute()/forwardInput() to after dataSync() of every output
// (the wasm backend computes synchronously; the copy out of the wasm heap is included, as
// onnxruntime-node's result tensors are) and the disposal of the outputs. Warm-up: --warmup
// (3) calls and at least --warmup-seconds (0.5): V8 first runs wasm with its baseline
// compiler (Liftoff) and tiers hot functions up to TurboFan while they run, so the first
// calls are up to 5x slower than the steady state measured here. Then it times calls until
// both --seconds and --min-iters are reached. Prints `RESULT {json}` (the
// same fields as ort_time.mjs); --out writes the first run's outputs as PREFIX.<k>.npy, in
// the order of --outputs (graph output names, e.g. Identity,Identity_2) or else of
// model.outputs.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { readNpy, writeNpy } from '../../tools/reference/npy.mjs';
import { loadArtifacts } from '../../tools/reference/run_tfjs.mjs';
import { loadFaceApi, defaultModelDir } from '../../tools/reference/run_faceapi.mjs';

const require = createRequire(new URL('../../tools/reference/package.json', import.meta.url));

function usage(msg, code = 2) {
  if (msg) process.stderr.write(`tfjs_time: ${msg}\n`);
  process.stderr.write('usage: tfjs_time.mjs MODEL.json|FACEAPI_MANIFEST.json INPUT.npy [--threads 1] '
    + '[--seconds S] [--min-iters N] [--warmup N] [--warmup-seconds S] [--out PREFIX] [--outputs NAME,...]\n');
  process.exit(code);
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/** Points the wasm backend at the package's own .wasm files (nothing is fetched). */
function configureWasm() {
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) {
    if (!fs.existsSync(path.join(dir, f))) throw new Error(`${path.join(dir, f)} is missing`);
  }
  wasm.setWasmPaths(`${dir}/`);
  wasm.setThreadsCount(1);
  return { wasm, dir };
}

async function main() {
  const args = process.argv.slice(2);
  const pos = [];
  const opt = { threads: 1, seconds: 1.0, minIters: 10, warmup: 3, warmupSeconds: 0.5, out: '', outputs: '' };
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    const val = () => { if (i + 1 >= args.length) usage(`${a} needs a value`); return args[++i]; };
    if (a === '--threads') opt.threads = Number(val());
    else if (a === '--seconds') opt.seconds = Number(val());
    else if (a === '--min-iters') opt.minIters = Number(val());
    else if (a === '--warmup') opt.warmup = Number(val());
    else if (a === '--warmup-seconds') opt.warmupSeconds = Number(val());
    else if (a === '--out') opt.out = val();
    else if (a === '--outputs') opt.outputs = val();
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else pos.push(a);
  }
  if (pos.length !== 2) usage('need MODEL and INPUT.npy');
  if (opt.threads !== 1) {
    usage('TF.js wasm runs 1 thread in Node (its threaded build is off under Node, tfjs#3830: '
      + 'its pthread workers are blob: URLs, which node:worker_threads refuses)');
  }
  let [modelPath] = pos;
  const isDir = fs.existsSync(modelPath) && fs.statSync(modelPath).isDirectory();
  const faceapiModel = modelPath === 'faceapi' || isDir || modelPath.endsWith('-weights_manifest.json');
  const { wasm, dir: wasmDir } = configureWasm();
  const { data, shape } = readNpy(pos[1]);

  let tf; let run; let outNames; let faceapi; let cleanup; let loopBatch = false;
  if (faceapiModel) {
    ({ faceapi, tf } = await loadFaceApi('wasm'));
    const modelDir = modelPath === 'faceapi' ? defaultModelDir() : isDir ? modelPath : path.dirname(modelPath);
    if (!modelDir) throw new Error('face_expression_model not found in the model cache (run tools/fetch_models.sh)');
    modelPath = path.join(modelDir, 'face_expression_model');
    await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
    const shp = shape.length === 3 ? [1, ...shape] : shape;
    if (shp.length !== 4 || shp[3] !== 3) throw new Error(`${pos[1]}: want RGB 0..255 NHWC [N,H,W,3], got [${shape}]`);
    const per = shp[1] * shp[2] * 3;
    const images = [];
    for (let n = 0; n < shp[0]; ++n) images.push(tf.tensor3d(data.subarray(n * per, (n + 1) * per), shp.slice(1), 'float32'));
    const netInput = await faceapi.toNetInput(images.length === 1 ? images[0] : images);
    outNames = ['probabilities'];
    run = () => {
      const y = faceapi.nets.faceExpressionNet.forwardInput(netInput);
      const v = [{ data: y.dataSync(), shape: y.shape }];
      y.dispose();
      return v;
    };
    cleanup = () => tf.dispose(images);
  } else {
    tf = require('@tensorflow/tfjs');
    tf.env().set('PROD', true); // silences only the "install tfjs-node" banner
    if (!(await tf.setBackend('wasm'))) throw new Error('TF.js wasm backend failed to initialise');
    await tf.ready();
    const model = await tf.loadGraphModel(tf.io.fromMemory(loadArtifacts(modelPath)));
    if (model.inputs.length !== 1) throw new Error(`${modelPath}: ${model.inputs.length} inputs, want 1`);
    const spec = model.inputs[0];
    const shp = spec.shape && spec.shape.length === shape.length + 1 ? [1, ...shape] : shape;
    // A graph with a fixed batch of 1 (blazeface-back.json) gets the images one by one, as
    // its users do; the outputs are concatenated along the batch.
    loopBatch = spec.shape && spec.shape[0] === 1 && shp[0] > 1;
    const per = shp.slice(1).reduce((p, d) => p * d, 1);
    const xs = loopBatch
      ? Array.from({ length: shp[0] }, (_, n) => tf.tensor(data.subarray(n * per, (n + 1) * per), [1, ...shp.slice(1)], 'float32'))
      : [tf.tensor(data, shp, 'float32')];
    outNames = opt.outputs ? opt.outputs.split(',') : model.outputs.map((o) => o.name.replace(/:0$/, ''));
    const known = new Set(model.outputs.map((o) => o.name.replace(/:0$/, '')));
    for (const n of outNames) if (!known.has(n)) throw new Error(`${modelPath}: no output ${n} (has ${[...known]})`);
    run = () => {
      const parts = xs.map((x) => {
        let ys = model.execute({ [spec.name]: x }, outNames);
        if (!Array.isArray(ys)) ys = [ys];
        const v = ys.map((y) => ({ data: y.dataSync(), shape: y.shape }));
        tf.dispose(ys);
        return v;
      });
      if (parts.length === 1) return parts[0];
      return outNames.map((_, k) => {
        const n = parts[0][k].data.length;
        const d = new Float32Array(n * parts.length);
        parts.forEach((p, i) => d.set(p[k].data, i * n));
        return { data: d, shape: [parts.length, ...parts[0][k].shape.slice(1)] };
      });
    };
    cleanup = () => { tf.dispose(xs); model.dispose(); };
  }
  if (tf.getBackend() !== 'wasm') throw new Error(`backend is ${tf.getBackend()}, not wasm`);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');

  const first = run();
  if (opt.out) first.forEach((o, k) => writeNpy(`${opt.out}.${k}.npy`, Float32Array.from(o.data), o.shape));
  const w0 = process.hrtime.bigint();
  for (let i = 0; i < opt.warmup || Number(process.hrtime.bigint() - w0) / 1e9 < opt.warmupSeconds; ++i) run();
  const ms = [];
  const cpu = [];
  const start = process.hrtime.bigint();
  for (;;) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    run();
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    ms.push(Number(t1 - t0) / 1e6);
    cpu.push((c.user + c.system) / 1e3);
    if (ms.length >= opt.minIters && Number(t1 - start) / 1e9 >= opt.seconds) break;
  }
  const result = {
    runtime: faceapiModel ? 'face-api+tfjs-wasm' : 'tfjs-wasm',
    version: `tfjs ${tf.version_core} wasm ${wasm.version_wasm}${faceapiModel ? ` face-api ${faceapi.version}` : ''}`,
    wasm: `${wasmDir}/${simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm'}`,
    simd,
    multithread,
    wasm_threads: wasm.getThreadsCount(),
    model: modelPath,
    input: shape,
    threads: opt.threads,
    batch_loop: loopBatch,
    median_ms: median(ms),
    min_ms: Math.min(...ms),
    mean_ms: ms.reduce((x, y) => x + y, 0) / ms.length,
    cpu_ms: median(cpu),
    iters: ms.length,
    outputs: outNames,
  };
  console.log(`${modelPath}  input [${shape}]  tfjs wasm simd ${simd} threads ${result.wasm_threads}: median ${result.median_ms.toFixed(4)} ms  min ${result.min_ms.toFixed(4)} ms  (${ms.length} runs)`);
  console.log(`RESULT ${JSON.stringify(result)}`);
  cleanup();
}

main().catch((e) => { process.stderr.write(`tfjs_time: ${e.stack || e}\n`); process.exit(1); });
