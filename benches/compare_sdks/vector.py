"""Public vector 1 (docs/wire-format.md, §8): V3 POST to URL A, params P13 as a form body."""

TOKEN = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4"
NONCE = "31627761595286130198"
URL = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml/?a=b&c=d"
SIGNATURE = "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c="
BODY = (
    "Direction=outbound&From=19792014278&ALegUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"
    "&CallStatus=in-progress&BillRate=0.002&ParentAuthID=MANWVLYTK4ZWU1YTY4QA"
    "&To=sip%3APlivoSignature382029104058171078704104%40phone-qa.voice.plivodev.com"
    "&ALegRequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&CallUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"
    "&RequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"
    "&SIP-H-To=%3Csip%3APlivoSignature382029104058171078704104%4052.9.11.55%3Btransport%3Dudp%3E%3Btag%3D1"
    "&SessionStart=2020-04-08+11%3A34%3A33.238707&Event=StartApp"
)
