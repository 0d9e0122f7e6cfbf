// Compiles contracts/TollwayToken.sol offline with solc-js (the npm package
// solc, whose compiler ships inside the package) and writes its ABI and
// bytecode as JSON, byte for byte the same on every run.
//   node contracts/build.mjs SOLC_PREFIX OUT.json
// SOLC_PREFIX is the npm prefix holding node_modules/solc (scripts/contracts.sh
// installs it into the cache and calls this script; use that, not this).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [prefix, out] = process.argv.slice(2);
if (!prefix || !out) {
  console.error('usage: node contracts/build.mjs SOLC_PREFIX OUT.json');
  process.exit(2);
}
const require = createRequire(join(prefix, 'node_modules', 'package.json'));
const solc = require('solc');
// js-sha3 is solc's own dependency (pinned by it), used here for event topics.
const { keccak256 } = require('js-sha3');

const here = dirname(fileURLToPath(import.meta.url));
const file = 'TollwayToken.sol';
const contract = 'TollwayToken';
const content = readFileSync(join(here, file), 'utf8');

// Every setting is spelled out, so a solc default that changes between
// releases cannot change the bytecode. shanghai: PUSH0 but no Cancun opcodes,
// which BNB Smart Chain, opBNB and every current EVM chain run.
const settings = {
  evmVersion: 'shanghai',
  optimizer: { enabled: true, runs: 200 },
  viaIR: false,
  metadata: { bytecodeHash: 'ipfs', appendCBOR: true, useLiteralContent: false },
  outputSelection: {
    [file]: { [contract]: ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'] },
  },
};
const input = { language: 'Solidity', sources: { [file]: { content } }, settings };
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage || e.message);
if (errors.length) process.exit(1);

const c = output.contracts[file][contract];
const eventTopics = {};
for (const item of c.abi) {
  if (item.type !== 'event') continue;
  const signature = `${item.name}(${item.inputs.map((i) => i.type).join(',')})`;
  eventTopics[signature] = '0x' + keccak256(signature);
}
const artifact = {
  contract,
  source: `contracts/${file}`,
  compiler: solc.version(),
  settings: { evmVersion: settings.evmVersion, optimizer: settings.optimizer, viaIR: settings.viaIR },
  abi: c.abi,
  methodIdentifiers: c.evm.methodIdentifiers,
  eventTopics,
  bytecode: '0x' + c.evm.bytecode.object,
  deployedBytecode: '0x' + c.evm.deployedBytecode.object,
};
writeFileSync(out, JSON.stringify(artifact, null, 2) + '\n');
