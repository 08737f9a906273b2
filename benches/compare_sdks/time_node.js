// Times the official `plivo` Node SDK's V3 validation on public vector 1 (docs/wire-format.md, §8).
// Prints `node validate <ns>` (params already an object) and `node parse+validate <ns>`
// (also parsing the form body, as a handler must). Run from a directory where `plivo` is
// installed (compare.sh does that in a temporary directory).
'use strict';
const querystring = require('querystring');
const { validateV3Signature } = require('plivo');

const TOKEN = 'Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4';
const NONCE = '31627761595286130198';
const URL = 'https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml/?a=b&c=d';
const SIGNATURE = 'k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c=';
const BODY = 'Direction=outbound&From=19792014278&ALegUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36'
  + '&CallStatus=in-progress&BillRate=0.002&ParentAuthID=MANWVLYTK4ZWU1YTY4QA'
  + '&To=sip%3APlivoSignature382029104058171078704104%40phone-qa.voice.plivodev.com'
  + '&ALegRequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&CallUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36'
  + '&RequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36'
  + '&SIP-H-To=%3Csip%3APlivoSignature382029104058171078704104%4052.9.11.55%3Btransport%3Dudp%3E%3Btag%3D1'
  + '&SessionStart=2020-04-08+11%3A34%3A33.238707&Event=StartApp';

const parse = () => Object.assign({}, querystring.parse(BODY));
const params = parse();
if (!validateV3Signature('POST', URL, NONCE, TOKEN, SIGNATURE, params)) {
  throw new Error('vector 1 must verify');
}
if (validateV3Signature('POST', URL, NONCE, TOKEN + 'x', SIGNATURE, params)) {
  throw new Error('a wrong token must fail');
}

function bestNs(fn) {
  const number = 5000;
  let best = Infinity;
  for (let run = 0; run < 7; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < number; i++) fn();
    const ns = Number(process.hrtime.bigint() - start) / number;
    best = Math.min(best, ns);
  }
  return best;
}

console.log(`node validate ${bestNs(() => validateV3Signature('POST', URL, NONCE, TOKEN, SIGNATURE, params)).toFixed(0)}`);
console.log(`node parse+validate ${bestNs(() => validateV3Signature('POST', URL, NONCE, TOKEN, SIGNATURE, parse())).toFixed(0)}`);
