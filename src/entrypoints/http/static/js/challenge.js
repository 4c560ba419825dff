// Ask for the join challenge and solve it in a Web Worker; resolves to the `proof`
// the join request carries (base64 of the JSON the service signed, with the number).

import { call } from "./api.js";

export async function solveChallenge(concertId, onProgress) {
  const challenge = await call("GET", `/queue/challenge?concert_id=${encodeURIComponent(concertId)}`);
  const number = await new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./challenge-worker.js", import.meta.url), { type: "module" });
    worker.onmessage = (event) => {
      const message = event.data;
      if (message.type === "progress") {
        onProgress(Math.min(99, Math.floor((100 * message.tried) / Math.max(1, message.maxnumber))));
      } else {
        worker.terminate();
        if (message.type === "found") resolve(message.number);
        else reject(new Error("challenge not solved"));
      }
    };
    worker.onerror = (error) => {
      worker.terminate();
      reject(error);
    };
    worker.postMessage({
      challenge: challenge.challenge,
      salt: challenge.salt,
      maxnumber: challenge.maxnumber,
    });
  });
  onProgress(100);
  const payload = {
    algorithm: challenge.algorithm,
    challenge: challenge.challenge,
    number,
    salt: challenge.salt,
    signature: challenge.signature,
  };
  const bytes = new TextEncoder().encode(JSON.stringify(payload));
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}
