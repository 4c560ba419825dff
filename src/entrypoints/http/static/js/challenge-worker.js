// The join challenge (ALTCHA format), solved off the page's thread: find n in
// 0..maxnumber with sha256(salt + n) == challenge, reporting progress as it goes.

import { sha256Hex } from "./sha256.js";

const REPORT_EVERY = 2000;

self.onmessage = (event) => {
  const { challenge, salt, maxnumber } = event.data;
  const target = String(challenge).toLowerCase();
  for (let n = 0; n <= maxnumber; n++) {
    if (sha256Hex(salt + String(n)) === target) {
      self.postMessage({ type: "found", number: n });
      return;
    }
    if (n % REPORT_EVERY === 0) self.postMessage({ type: "progress", tried: n, maxnumber });
  }
  self.postMessage({ type: "failed" });
};
