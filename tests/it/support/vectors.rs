//! The public vectors (from Plivo's own SDK test suites; the V3 ones were signed by a Plivo
//! server): one copy, for every test that needs a request Plivo really signed.
#![allow(dead_code)] // each test file uses a different subset

pub const V3_TOKEN: &str = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4";
pub const V3_NONCE: &str = "31627761595286130198";
pub const ORIGIN: &str = "https://plivobin.non-prod.plivops.com";
pub const PATH_A: &str = "/api/v1/validate_signature03.xml/?a=b&c=d";
pub const PATH_B: &str = "/api/v1/validate_signature03.xml";

/// P13, form-encoded as Plivo sends it.
pub const P13: &str = "Direction=outbound&From=19792014278&ALegUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
&CallStatus=in-progress&BillRate=0.002&ParentAuthID=MANWVLYTK4ZWU1YTY4QA\
&To=sip%3APlivoSignature382029104058171078704104%40phone-qa.voice.plivodev.com\
&ALegRequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&CallUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
&RequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
&SIP-H-To=%3Csip%3APlivoSignature382029104058171078704104%4052.9.11.55%3Btransport%3Dudp%3E%3Btag%3D1\
&SessionStart=2020-04-08+11%3A34%3A33.238707&Event=StartApp";

pub struct V3Vector {
    pub method: &'static str,
    pub path: &'static str,
    pub signature: &'static str,
}

pub const V3_VECTORS: [V3Vector; 4] = [
    V3Vector {
        method: "POST",
        path: PATH_A,
        signature: "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c=",
    },
    V3Vector {
        method: "GET",
        path: PATH_A,
        signature: "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ=",
    },
    V3Vector {
        method: "POST",
        path: PATH_B,
        signature: "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0=",
    },
    V3Vector {
        method: "GET",
        path: PATH_B,
        signature: "i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc=",
    },
];

impl V3Vector {
    /// The request target and body as they go on the wire: for GET, P13 is appended to the URL's
    /// own query; for POST it is the body.
    pub fn wire(&self) -> (String, &'static str) {
        match self.method {
            "GET" if self.path.contains('?') => (format!("{}&{P13}", self.path), ""),
            "GET" => (format!("{}?{P13}", self.path), ""),
            _ => (self.path.to_owned(), P13),
        }
    }
}

pub const V2_TOKEN: &str = "my_auth_token";
pub const V2_NONCE: &str = "12345";
pub const V2_VECTORS: [(&str, &str); 3] = [
    (
        "https://answer.url",
        "ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=",
    ),
    (
        "https://answer.url/",
        "do1CXv+k99A6+B+eTcyqbxWlezFIxJ/1vz72787r37g=",
    ),
    (
        "https://answer.url:8000",
        "Gm7Z7AGBmf5JpSHrtUmeofrGyA4xV0ZiV0rH8JPXWGU=",
    ),
];
