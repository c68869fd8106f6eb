// curve.js - CURVE keys for the client: Z85 text, lstd's key files, the socket options
import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";

import { fromHex } from "./codec.js";

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/** 32 bytes as 40 Z85 characters (ZeroMQ's text form of a CURVE key). */
export function z85Encode(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw new TypeError("a CURVE key is 32 bytes");
  let out = "";
  for (let i = 0; i < 32; i += 4) {
    let v = ((bytes[i] << 24) >>> 0) + (bytes[i + 1] << 16) + (bytes[i + 2] << 8) + bytes[i + 3];
    let chunk = "";
    for (let j = 0; j < 5; j++) {
      chunk = Z85[v % 85] + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}

/** 40 Z85 characters as 32 bytes; throws on anything else. */
export function z85Decode(text) {
  if (typeof text !== "string" || text.length !== 40) throw new TypeError("a CURVE key in Z85 is 40 characters");
  const out = new Uint8Array(32);
  for (let i = 0, o = 0; i < 40; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const d = Z85.indexOf(text[i + j]);
      if (d < 0) throw new TypeError(`not a Z85 character: ${JSON.stringify(text[i + j])}`);
      v = v * 85 + d;
    }
    if (v > 0xffffffff) throw new TypeError("not a Z85 key");
    out[o++] = v >>> 24;
    out[o++] = (v >>> 16) & 255;
    out[o++] = (v >>> 8) & 255;
    out[o++] = v & 255;
  }
  return out;
}

/** A CURVE key given as 40 Z85 characters, 64 hex characters or 32 bytes, as Z85 text. */
export function curveKey(k, what = "CURVE key") {
  if (k instanceof Uint8Array) return z85Encode(k);
  if (typeof k === "string" && k.length === 40) {
    z85Decode(k); // checks it
    return k;
  }
  if (typeof k === "string" && k.length === 64) return z85Encode(fromHex(k));
  throw new TypeError(`${what}: expected 40 Z85 characters, 64 hex characters or 32 bytes`);
}

/** The one key of an lstd key file: a line of 40 Z85 or 64 hex characters; blank lines and
 *  comments (from a '#' at the start of a line or after a blank) ignored. */
function keyOfText(text, path) {
  const keys = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const word = line.split(/\s+/)[0];
    const rest = line.slice(word.length).trim();
    if (rest !== "" && !rest.startsWith("#")) throw new Error(`${path}: more than a key on a line`);
    keys.push(word);
  }
  if (keys.length !== 1) throw new Error(`${path}: ${keys.length === 0 ? "no key" : "more than one key"} in it`);
  return curveKey(keys[0], path);
}

/** Read a CURVE public key file (`lst curve-keygen`'s NAME.public). Returns: Z85 text. */
export function loadCurvePublicKey(path) {
  return keyOfText(readFileSync(path, "utf8"), path);
}

/** Read a CURVE secret key file (NAME.secret): refused, as lstd and lst do, when group or
 *  others may read it or others may replace it. Returns: Z85 text. */
export function loadCurveSecretKey(path) {
  const mode = statSync(path).mode;
  if (mode & 0o077)
    throw new Error(`key file ${path} has mode ${(mode & 0o7777).toString(8).padStart(4, "0")}: ` +
      `group or others can read it; run chmod 600 ${path}`);
  const dir = dirname(path), dmode = statSync(dir).mode;
  if ((dmode & 0o002) && !(dmode & 0o1000))
    throw new Error(`key directory ${dir} is writable by others, who could replace ${path}; run chmod o-w ${dir}`);
  return keyOfText(readFileSync(path, "utf8"), path);
}

/** The zeromq.js socket options of a client's `curve` option (undefined: none, the NULL
 *  mechanism): {serverKey, publicKey, secretKey}, each Z85, hex or 32 bytes. */
export function curveSocketOptions(curve) {
  if (curve === undefined || curve === null) return {};
  if (typeof curve !== "object") throw new TypeError("curve: expected {serverKey, publicKey, secretKey}");
  return {
    curveServerKey: curveKey(curve.serverKey, "curve.serverKey"),
    curvePublicKey: curveKey(curve.publicKey, "curve.publicKey"),
    curveSecretKey: curveKey(curve.secretKey, "curve.secretKey"),
  };
}
