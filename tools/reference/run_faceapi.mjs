#!/usr/bin/env node
// Run face-api's FaceExpressionNet (or AgeGenderNet) with the npm package's own code on the
// pure-JS cpu backend.
//
//   node tools/reference/run_faceapi.mjs [--net expression|age_gender] [--model-dir DIR] INPUT.npy OUT_PREFIX
//
// INPUT.npy: RGB 0..255, [1,112,112,3] or [112,112,3] (NHWC). Other sizes are padded to a
// square and resized by face-api itself (NetInput.toBatchTensor), exactly as it does for a
// canvas. Writes OUT_PREFIX.probabilities.npy [N,7] (softmax, face-api label order
// neutral, happy, sad, angry, fearful, disgusted, surprised) and OUT_PREFIX.json.
// --net age_gender: OUT_PREFIX.age.npy [N] (years, fc/age as is) and OUT_PREFIX.gender.npy
// [N,2] (softmax, face-api's order male, female) from AgeGenderNet.forwardInput.
//
// Bundle choice: dist/face-api.node.js requires @tensorflow/tfjs-node (native, downloads
// libtensorflow at install: not usable here). dist/face-api.node-wasm.js requires only
// @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm (pure JS + .wasm shipped in the npm
// tarball), so it loads; we then select the `cpu` backend, so the wasm backend is never used
// here (bench/peers/tfjs_time.mjs imports loadFaceApi and defaultModelDir and runs the same
// net on the wasm backend).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { readNpy, writeNpy } from './npy.mjs';

const require = createRequire(import.meta.url);
export const LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];

function usage(msg) {
  if (msg) process.stderr.write(`run_faceapi: ${msg}\n`);
  process.stderr.write('usage: run_faceapi.mjs [--net expression|age_gender] [--model-dir DIR] INPUT.npy OUT_PREFIX\n');
  process.exit(2);
}

export function defaultModelDir() {
  const cache = process.env.MIEN_MODEL_CACHE || path.join(os.homedir(), '.cache', 'mien', 'models');
  const candidates = [
    path.join(cache, 'vladmandic-face-api-1.7.15', 'package', 'model'),
    path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model'),
  ];
  return candidates.find((d) => fs.existsSync(path.join(d, 'face_expression_model-weights_manifest.json')));
}

/** Load face-api (node-wasm bundle) on a backend (default cpu); returns { faceapi, tf }.
 *  For 'wasm', configure @tensorflow/tfjs-backend-wasm (setWasmPaths...) before calling. */
export async function loadFaceApi(backend = 'cpu') {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const { tf } = faceapi;
  tf.env().set('PROD', true); // silences only the "install tfjs-node" banner
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} failed to initialise`);
  await tf.ready();
  return { faceapi, tf };
}

async function main() {
  const args = process.argv.slice(2);
  let modelDir;
  let net = 'expression';
  const pos = [];
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === '--model-dir') { modelDir = args[i + 1]; i += 1; } else if (args[i] === '--net') { net = args[i + 1]; i += 1; } else if (args[i] === '-h' || args[i] === '--help') usage();
    else pos.push(args[i]);
  }
  if (pos.length !== 2) usage();
  if (net !== 'expression' && net !== 'age_gender') usage(`unknown --net ${net}`);
  const [inputFile, outPrefix] = pos;
  modelDir = modelDir || defaultModelDir();
  if (!modelDir) usage('face_expression_model not found; pass --model-dir (face-api package model/ folder)');

  const { faceapi, tf } = await loadFaceApi();
  if (net === 'age_gender') return runAgeGender(faceapi, tf, modelDir, inputFile, outPrefix);
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);

  const { data, shape } = readNpy(inputFile);
  const shp = shape.length === 3 ? [1, ...shape] : shape;
  if (shp.length !== 4 || shp[3] !== 3) throw new Error(`${inputFile}: want RGB NHWC [1,H,W,3], got [${shape}]`);
  const x = tf.tensor4d(data, shp, 'float32');
  // toNetInput/NetInput is face-api's own input path (pad to square, resize to 112 if needed).
  const netInput = await faceapi.toNetInput(x);
  const probs = faceapi.nets.faceExpressionNet.forwardInput(netInput);
  const vals = await probs.data();
  const file = `${outPrefix}.probabilities.npy`;
  writeNpy(file, Float32Array.from(vals), probs.shape);
  const manifest = {
    runtime: `@vladmandic/face-api ${faceapi.version} (dist/face-api.node-wasm.js) @tensorflow/tfjs ${tf.version_core} backend ${tf.getBackend()}`,
    model: path.join(modelDir, 'face_expression_model'),
    layout: 'NHWC',
    input_note: 'RGB 0..255; face-api subtracts mean [122.782,117.001,104.298] and divides by 255',
    labels: LABELS,
    inputs: [{ name: 'image', shape: shp, dtype: 'float32', file: inputFile }],
    outputs: [{ name: 'probabilities', shape: probs.shape, dtype: 'float32', file: path.basename(file) }],
  };
  fs.writeFileSync(`${outPrefix}.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`input  image [${shp}] <- ${inputFile}`);
  console.log(`output probabilities [${probs.shape}] -> ${file}`);
  const row = Array.from(vals.slice(0, 7));
  console.log(LABELS.map((l, i) => `${l}=${row[i].toFixed(4)}`).join(' '));
  tf.dispose([x, probs]);
}

async function runAgeGender(faceapi, tf, modelDir, inputFile, outPrefix) {
  await faceapi.nets.ageGenderNet.loadFromDisk(modelDir);
  const { data, shape } = readNpy(inputFile);
  const shp = shape.length === 3 ? [1, ...shape] : shape;
  if (shp.length !== 4 || shp[3] !== 3) throw new Error(`${inputFile}: want RGB NHWC [1,H,W,3], got [${shape}]`);
  const x = tf.tensor4d(data, shp, 'float32');
  const netInput = await faceapi.toNetInput(x);
  const { age, gender } = faceapi.nets.ageGenderNet.forwardInput(netInput);
  const ages = await age.data();
  const genders = await gender.data();
  writeNpy(`${outPrefix}.age.npy`, Float32Array.from(ages), age.shape);
  writeNpy(`${outPrefix}.gender.npy`, Float32Array.from(genders), gender.shape);
  const manifest = {
    runtime: `@vladmandic/face-api ${faceapi.version} (dist/face-api.node-wasm.js) @tensorflow/tfjs ${tf.version_core} backend ${tf.getBackend()}`,
    model: path.join(modelDir, 'age_gender_model'),
    layout: 'NHWC',
    input_note: 'RGB 0..255; face-api subtracts mean [122.782,117.001,104.298] and divides by 255',
    gender_labels: ['male', 'female'],
    inputs: [{ name: 'image', shape: shp, dtype: 'float32', file: inputFile }],
    outputs: [{ name: 'age', shape: age.shape, dtype: 'float32', file: path.basename(`${outPrefix}.age.npy`) },
      { name: 'gender', shape: gender.shape, dtype: 'float32', file: path.basename(`${outPrefix}.gender.npy`) }],
  };
  fs.writeFileSync(`${outPrefix}.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`age=${ages[0].toFixed(3)} male=${genders[0].toFixed(4)} female=${genders[1].toFixed(4)}`);
  tf.dispose([x, age, gender]);
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('run_faceapi.mjs')) {
  main().catch((e) => { process.stderr.write(`run_faceapi: ${e.stack || e}\n`); process.exit(1); });
}
