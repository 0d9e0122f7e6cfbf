// A local EVM devnet for Tollway's stablecoin rail (issue 15): anvil started
// on a free port with chain id 56 (BNB Smart Chain's), and the three test
// tokens (USDT, USDC, BUSD, each a contracts/TollwayToken.sol, 18 decimals)
// deployed from anvil's first default account, which receives 1,000,000 of
// each. Plain JSON-RPC over fetch (Node.js 20), no npm dependency: a small
// ABI encoder/decoder covers the few calls needed. The Rust side does the
// same with alloy; this is the reference it is checked against.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHAIN_ID = 56;
// BNB Smart Chain's mainnet has run Prague's EIPs since its Pascal hard fork;
// the tokens are compiled for shanghai, which every later fork runs too.
export const ANVIL_ARGS = ['--chain-id', String(CHAIN_ID), '--block-time', '1', '--hardfork', 'prague', '--order', 'fifo'];
export const TOKENS = [
  { symbol: 'USDT', name: 'Tether USD' },
  { symbol: 'USDC', name: 'USD Coin' },
  { symbol: 'BUSD', name: 'BUSD Token' },
];
export const ONE_TOKEN = 10n ** 18n;
export const INITIAL_SUPPLY = 1_000_000n * ONE_TOKEN;

const here = dirname(fileURLToPath(import.meta.url));
export function loadArtifact(path = join(here, '..', 'contracts', 'TollwayToken.json')) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

// ---- ABI, by hand: 32-byte words in hex -----------------------------------
const word = (hex) => hex.padStart(64, '0');
export const encodeUint = (n) => {
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 256n) throw new Error(`uint256 out of range: ${n}`);
  return word(v.toString(16));
};
export const encodeAddress = (a) => {
  if (!/^0x[0-9a-fA-F]{40}$/.test(a)) throw new Error(`not an address: ${a}`);
  return word(a.slice(2).toLowerCase());
};
const encodeBytesTail = (buf) => {
  const hex = buf.toString('hex');
  return encodeUint(buf.length) + hex.padEnd(Math.ceil(hex.length / 64) * 64, '0');
};
// Encodes a tuple of ('string' | 'uint256' | 'address') values, as for a
// constructor or a call's arguments (without the selector).
export function encodeArgs(types, values) {
  const heads = [];
  const tails = [];
  let tailOffset = 32 * types.length;
  types.forEach((type, i) => {
    if (type === 'uint256' || type === 'uint8') heads.push(encodeUint(values[i]));
    else if (type === 'address') heads.push(encodeAddress(values[i]));
    else if (type === 'string') {
      const tail = encodeBytesTail(Buffer.from(values[i], 'utf8'));
      heads.push(encodeUint(tailOffset));
      tails.push(tail);
      tailOffset += tail.length / 2;
    } else throw new Error(`type not supported: ${type}`);
  });
  return heads.join('') + tails.join('');
}
export const decodeUint = (data) => BigInt(data.length > 2 ? data : '0x0');
export function decodeString(data) {
  const hex = data.slice(2);
  const offset = Number(BigInt('0x' + hex.slice(0, 64)));
  const length = Number(BigInt('0x' + hex.slice(offset * 2, offset * 2 + 64)));
  return Buffer.from(hex.slice(offset * 2 + 64, offset * 2 + 64 + length * 2), 'hex').toString('utf8');
}
export const topicAddress = (topic) => '0x' + topic.slice(-40);

// Calldata for a function named by its signature, from the artifact's
// methodIdentifiers (solc's own selectors).
export function calldata(artifact, signature, values = []) {
  const selector = artifact.methodIdentifiers[signature];
  if (!selector) throw new Error(`no such function: ${signature}`);
  const types = signature.slice(signature.indexOf('(') + 1, -1).split(',').filter(Boolean);
  return '0x' + selector + encodeArgs(types, values);
}

// ---- JSON-RPC ---------------------------------------------------------------
export function rpcClient(url) {
  let id = 0;
  return async function rpc(method, params = []) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    const body = await res.json();
    if (body.error) {
      const err = new Error(`${method}: ${body.error.message}`);
      err.rpc = body.error;
      throw err;
    }
    return body.result;
  };
}

export async function waitReceipt(rpc, hash, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const receipt = await rpc('eth_getTransactionReceipt', [hash]);
    if (receipt) return receipt;
    if (Date.now() > deadline) throw new Error(`no receipt for ${hash} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- anvil -------------------------------------------------------------------
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Starts anvil and resolves once it answers eth_chainId. Returns
// { url, port, rpc, process, log, stop() }.
export async function startAnvil(anvilBin, { port, extraArgs = [], timeoutMs = 30_000 } = {}) {
  port ??= await freePort();
  const args = ['--host', '127.0.0.1', '--port', String(port), ...ANVIL_ARGS, ...extraArgs];
  const child = spawn(anvilBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exited = { code, signal }))));
  const url = `http://127.0.0.1:${port}`;
  const rpc = rpcClient(url);
  const stop = async () => {
    if (!exited) child.kill('SIGTERM');
    const timer = setTimeout(() => exited || child.kill('SIGKILL'), 5_000);
    const result = await exit;
    clearTimeout(timer);
    return result;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`anvil exited (${JSON.stringify(exited)}) before answering:\n${log}`);
    try {
      await rpc('eth_chainId');
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`anvil did not answer on ${url} within ${timeoutMs} ms:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, port, args, rpc, process: child, log: () => log, stop };
}

// Deploys the three tokens from `from` (an account anvil has unlocked),
// minting INITIAL_SUPPLY of each to `holder`. The transactions are sent one
// after the other (nonces in order), then their receipts awaited.
// Returns [{ symbol, name, address, txHash, receipt }].
export async function deployTokens(rpc, artifact, from, holder = from) {
  const sent = [];
  for (const t of TOKENS) {
    const data = artifact.bytecode + encodeArgs(['string', 'string', 'uint256', 'address'], [t.name, t.symbol, INITIAL_SUPPLY, holder]);
    const txHash = await rpc('eth_sendTransaction', [{ from, data }]);
    sent.push({ ...t, txHash });
  }
  for (const s of sent) {
    s.receipt = await waitReceipt(rpc, s.txHash);
    if (s.receipt.status !== '0x1') throw new Error(`deploying ${s.symbol} failed: ${JSON.stringify(s.receipt)}`);
    s.address = s.receipt.contractAddress;
  }
  return sent;
}
