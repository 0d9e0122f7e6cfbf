// Proves the EVM devnet on a real anvil: starts it (chain id 56), deploys
// USDT, USDC and BUSD, reads them back with eth_call, makes one transfer and
// finds it with eth_getLogs, then stops anvil. Prints every check; exits 1 at
// the first that fails.
//   node scripts/evm-devnet-smoke.mjs ANVIL_BIN   (scripts/evm-devnet-smoke.sh runs it)
import {
  CHAIN_ID, INITIAL_SUPPLY, ONE_TOKEN, TOKENS, calldata, decodeString, decodeUint, deployTokens,
  encodeAddress, encodeUint, loadArtifact, startAnvil, topicAddress, waitReceipt,
} from './evm-devnet.mjs';

const anvilBin = process.argv[2];
if (!anvilBin) {
  console.error('usage: node scripts/evm-devnet-smoke.mjs ANVIL_BIN');
  process.exit(2);
}

// anvil's default mnemonic ("test test ... junk") gives these first two
// accounts; its CREATE addresses for the first account's nonces 0, 1, 2 are
// the well-known ones below, so the tokens land at fixed addresses on a fresh devnet.
const ACCOUNT0 = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';
const ACCOUNT1 = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const EXPECTED_ADDRESSES = {
  USDT: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
  USDC: '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512',
  BUSD: '0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0',
};

let checks = 0;
function check(what, ok, detail = '') {
  if (!ok) throw new Error(`FAILED: ${what}${detail ? ` (${detail})` : ''}`);
  checks++;
  console.log(`ok ${String(checks).padStart(2)}  ${what}${detail ? `  [${detail}]` : ''}`);
}
const eq = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
const fmt = (units) => `${units / ONE_TOKEN}.${(units % ONE_TOKEN).toString().padStart(18, '0').replace(/0+$/, '') || '0'}`;

const artifact = loadArtifact();
const transferTopic = artifact.eventTopics['Transfer(address,address,uint256)'];
const started = Date.now();
const anvil = await startAnvil(anvilBin);
console.log(`anvil ${anvil.args.join(' ')}  (${anvil.url}, pid ${anvil.process.pid})`);
let failed = false;
try {
  const { rpc } = anvil;
  const version = await rpc('web3_clientVersion');
  check('anvil answers web3_clientVersion', /anvil/i.test(version), version);
  check('eth_chainId is 56 (0x38)', Number(await rpc('eth_chainId')) === CHAIN_ID, await rpc('eth_chainId'));
  check('net_version is 56', (await rpc('net_version')) === String(CHAIN_ID));
  const accounts = await rpc('eth_accounts');
  check("account 0 is anvil's first default account", eq(accounts[0], ACCOUNT0), accounts[0]);
  check("account 1 is anvil's second default account", eq(accounts[1], ACCOUNT1), accounts[1]);
  check('the Transfer topic is keccak256("Transfer(address,address,uint256)")',
    transferTopic === '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef', transferTopic);

  const tokens = await deployTokens(rpc, artifact, ACCOUNT0);
  for (const t of tokens) {
    const r = t.receipt;
    check(`${t.symbol} deployed (receipt status 1)`, r.status === '0x1',
      `${t.address}, block ${Number(r.blockNumber)}, gas ${Number(r.gasUsed)}`);
    check(`${t.symbol} at its deterministic address`, eq(t.address, EXPECTED_ADDRESSES[t.symbol]));
    const code = await rpc('eth_getCode', [t.address, 'latest']);
    check(`${t.symbol} code equals the committed deployedBytecode`, code === artifact.deployedBytecode, `${(code.length - 2) / 2} bytes`);
    const mint = r.logs.filter((l) => l.topics[0] === transferTopic);
    check(`${t.symbol} constructor logged Transfer(0x0 -> account 0, 1,000,000)`,
      mint.length === 1 && eq(topicAddress(mint[0].topics[1]), '0x' + '0'.repeat(40)) &&
        eq(topicAddress(mint[0].topics[2]), ACCOUNT0) && decodeUint(mint[0].data) === INITIAL_SUPPLY);

    const call = (sig, args, from) => rpc('eth_call', [{ to: t.address, data: calldata(artifact, sig, args), ...(from && { from }) }, 'latest']);
    check(`${t.symbol}.symbol() = "${t.symbol}"`, decodeString(await call('symbol()')) === t.symbol);
    check(`${t.symbol}.name() = "${t.name}"`, decodeString(await call('name()')) === t.name);
    check(`${t.symbol}.decimals() = 18`, decodeUint(await call('decimals()')) === 18n);
    check(`${t.symbol}.totalSupply() = 1,000,000 x 10^18`, decodeUint(await call('totalSupply()')) === INITIAL_SUPPLY);
    const bal0 = decodeUint(await call('balanceOf(address)', [ACCOUNT0]));
    check(`${t.symbol}.balanceOf(account 0) = 1,000,000 x 10^18`, bal0 === INITIAL_SUPPLY, bal0.toString());
    check(`${t.symbol}.balanceOf(account 1) = 0`, decodeUint(await call('balanceOf(address)', [ACCOUNT1])) === 0n);
    let reverted = null;
    try {
      await call('transfer(address,uint256)', [ACCOUNT0, 1n], ACCOUNT1);
    } catch (e) {
      reverted = e.message;
    }
    check(`${t.symbol}: a transfer beyond the balance reverts`, reverted && /insufficient balance/.test(reverted), reverted || 'did not revert');
  }

  // One transfer of 12.345678 USDT from account 0 to account 1, found again with eth_getLogs.
  const usdt = tokens.find((t) => t.symbol === 'USDT');
  const amount = 12_345_678n * 10n ** 12n;
  const txHash = await rpc('eth_sendTransaction', [{ from: ACCOUNT0, to: usdt.address, data: calldata(artifact, 'transfer(address,uint256)', [ACCOUNT1, amount]) }]);
  const receipt = await waitReceipt(rpc, txHash);
  check('USDT transfer(account 1, 12.345678) mined with status 1', receipt.status === '0x1', `${txHash}, block ${Number(receipt.blockNumber)}`);
  const logs = await rpc('eth_getLogs', [{
    address: usdt.address,
    fromBlock: receipt.blockNumber,
    toBlock: receipt.blockNumber,
    topics: [transferTopic, '0x' + encodeAddress(ACCOUNT0), '0x' + encodeAddress(ACCOUNT1)],
  }]);
  check('eth_getLogs (address, Transfer topic, from, to) finds exactly one log', logs.length === 1, `${logs.length}`);
  const log = logs[0];
  check('the log is the transfer: same transaction, topic0 = Transfer', log.transactionHash === txHash && log.topics[0] === transferTopic,
    `logIndex ${Number(log.logIndex)}, block hash ${log.blockHash.slice(0, 18)}...`);
  check('topic1 = account 0, topic2 = account 1', eq(topicAddress(log.topics[1]), ACCOUNT0) && eq(topicAddress(log.topics[2]), ACCOUNT1));
  check('data = 12345678 x 10^12 units', log.data === '0x' + encodeUint(amount), `${decodeUint(log.data)} = ${fmt(decodeUint(log.data))} USDT`);
  const block = await rpc('eth_getBlockByNumber', [receipt.blockNumber, false]);
  check('the log is in the canonical block of that number', block.hash === log.blockHash);
  const otherLogs = await rpc('eth_getLogs', [{ address: tokens.filter((t) => t.symbol !== 'USDT').map((t) => t.address), fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber }]);
  check('no USDC or BUSD log in that block', otherLogs.length === 0);
  const usdtCall = (sig, args) => rpc('eth_call', [{ to: usdt.address, data: calldata(artifact, sig, args) }, 'latest']);
  const after0 = decodeUint(await usdtCall('balanceOf(address)', [ACCOUNT0]));
  const after1 = decodeUint(await usdtCall('balanceOf(address)', [ACCOUNT1]));
  check('USDT balances after: account 0 = 1,000,000 - 12.345678, account 1 = 12.345678',
    after0 === INITIAL_SUPPLY - amount && after1 === amount, `${fmt(after0)} / ${fmt(after1)}`);
  check('USDT totalSupply unchanged', decodeUint(await usdtCall('totalSupply()')) === INITIAL_SUPPLY);

  // approve / allowance / transferFrom: account 0 lets account 1 spend 5 USDT.
  const allowed = 5n * ONE_TOKEN;
  const approveHash = await rpc('eth_sendTransaction', [{ from: ACCOUNT0, to: usdt.address, data: calldata(artifact, 'approve(address,uint256)', [ACCOUNT1, allowed]) }]);
  const approveReceipt = await waitReceipt(rpc, approveHash);
  const approval = approveReceipt.logs.find((l) => l.topics[0] === artifact.eventTopics['Approval(address,address,uint256)']);
  check('USDT approve(account 1, 5) logged Approval(account 0, account 1, 5)', approveReceipt.status === '0x1' && approval &&
    eq(topicAddress(approval.topics[1]), ACCOUNT0) && eq(topicAddress(approval.topics[2]), ACCOUNT1) && decodeUint(approval.data) === allowed);
  check('USDT allowance(account 0, account 1) = 5', decodeUint(await usdtCall('allowance(address,address)', [ACCOUNT0, ACCOUNT1])) === allowed);
  let overAllowance = null;
  try {
    await rpc('eth_call', [{ from: ACCOUNT1, to: usdt.address, data: calldata(artifact, 'transferFrom(address,address,uint256)', [ACCOUNT0, ACCOUNT1, allowed + 1n]) }, 'latest']);
  } catch (e) {
    overAllowance = e.message;
  }
  check('USDT transferFrom beyond the allowance reverts', overAllowance && /insufficient allowance/.test(overAllowance), overAllowance || 'did not revert');
  const tfHash = await rpc('eth_sendTransaction', [{ from: ACCOUNT1, to: usdt.address, data: calldata(artifact, 'transferFrom(address,address,uint256)', [ACCOUNT0, ACCOUNT1, allowed]) }]);
  check('USDT transferFrom(account 0, account 1, 5) by account 1 mined with status 1', (await waitReceipt(rpc, tfHash)).status === '0x1');
  check('USDT allowance used up, account 1 holds 17.345678',
    decodeUint(await usdtCall('allowance(address,address)', [ACCOUNT0, ACCOUNT1])) === 0n &&
      decodeUint(await usdtCall('balanceOf(address)', [ACCOUNT1])) === amount + allowed);
} catch (e) {
  failed = true;
  console.error(e.stack || e.message);
} finally {
  const exit = await anvil.stop();
  console.log(`anvil stopped (${exit.signal || `exit ${exit.code}`})`);
}
if (failed) process.exit(1);
console.log(`evm devnet smoke: ${checks} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s (${TOKENS.map((t) => t.symbol).join(', ')} on chain ${CHAIN_ID})`);
