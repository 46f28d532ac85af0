// AWS SDK for JavaScript v3 against a Chunk Works gateway, driven by s3-tests/test_js_sdk.py.
//
//   node scenario.mjs SCENARIO
//
// Endpoint and credentials come from the environment (CW_ENDPOINT, CW_ACCESS_KEY, CW_SECRET_KEY,
// CW_REGION), the bucket from CW_BUCKET, scenario inputs from the other CW_* variables named
// below. The result is one JSON object on stdout; the Python test asserts on it (and checks
// what was stored with boto3). An unexpected exception exits 1 with its name and message as JSON
// on stdout, so a failing test shows what the SDK said.
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  DeleteBucketCommand,
  S3Client,
  paginateListObjectsV2,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`missing environment variable ${name}`);
  return v;
};

// Request headers of every request the client sent (after signing), for asserting what the SDK
// put on the wire (e.g. its default CRC32 checksum).
const sent = [];

function client(extra = {}) {
  const c = new S3Client({
    endpoint: env("CW_ENDPOINT"),
    region: env("CW_REGION"),
    credentials: { accessKeyId: env("CW_ACCESS_KEY"), secretAccessKey: env("CW_SECRET_KEY") },
    forcePathStyle: true,
    maxAttempts: 1,
    ...extra,
  });
  c.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({
        command: context.commandName,
        method: args.request.method,
        headers: { ...args.request.headers },
      });
      return next(args);
    },
    { step: "deserialize", name: "cwRecordRequests" },
  );
  return c;
}

const md5 = (buf) => createHash("md5").update(buf).digest("hex");

async function bodyBytes(body) {
  return Buffer.from(await body.transformToByteArray());
}

function errorInfo(e) {
  return {
    name: e.name,
    code: e.Code ?? null,
    status: e.$metadata?.httpStatusCode ?? null,
    message: e.message,
  };
}

async function expectError(fn) {
  try {
    await fn();
  } catch (e) {
    return errorInfo(e);
  }
  return { name: "no error" };
}

function pick(obj, keys) {
  const out = {};
  for (const k of keys) out[k] = obj[k] ?? null;
  return out;
}

const scenarios = {
  // PutObject from a Buffer and from a file stream (length known, body aws-chunked with a
  // trailing checksum), both with the SDK's default CRC32; GetObject with checksum mode on.
  async "put-get"() {
    const s3 = client();
    const bucket = env("CW_BUCKET");
    const input = readFileSync(env("CW_FILE_IN"));
    const out = {};
    const put = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: "buffer.bin", Body: input }),
    );
    out.put_buffer = pick(put, ["ETag", "ChecksumCRC32"]);
    out.put_buffer.request_headers = sent.at(-1).headers;
    const put2 = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "stream.bin",
        Body: createReadStream(env("CW_FILE_IN")),
      }),
    );
    out.put_stream = pick(put2, ["ETag", "ChecksumCRC32"]);
    out.put_stream.request_headers = sent.at(-1).headers;
    for (const key of ["buffer.bin", "stream.bin"]) {
      const got = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }),
      );
      const bytes = await bodyBytes(got.Body);
      writeFileSync(`${env("CW_FILE_OUT")}.${key}`, bytes);
      out[`get_${key}`] = {
        ...pick(got, ["ETag", "ContentLength", "ChecksumCRC32"]),
        md5: md5(bytes),
        length: bytes.length,
      };
    }
    return out;
  },

  // PutObject with metadata and content headers, then HeadObject and GetObject.
  async head() {
    const s3 = client();
    const bucket = env("CW_BUCKET");
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "meta.json",
        Body: '{"hello":"js"}',
        ContentType: "application/json; charset=utf-8",
        CacheControl: "no-cache",
        ContentDisposition: 'inline; filename="meta.json"',
        ContentLanguage: "de-CH",
        Metadata: { colour: "green", "multi-word": "a b c" },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "meta.json" }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "meta.json" }));
    return {
      head: {
        ...pick(head, [
          "ContentType",
          "ContentLength",
          "ETag",
          "CacheControl",
          "ContentDisposition",
          "ContentLanguage",
          "Metadata",
        ]),
        LastModified: head.LastModified?.toISOString() ?? null,
        status: head.$metadata.httpStatusCode,
      },
      get: {
        ...pick(got, ["ContentType", "Metadata"]),
        body: (await bodyBytes(got.Body)).toString("utf8"),
      },
    };
  },

  // ListObjectsV2 with prefix and delimiter, and pagination with MaxKeys (keys made by the test).
  async list() {
    const s3 = client();
    const bucket = env("CW_BUCKET");
    const top = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: "/" }));
    const docs = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: "docs/", Delimiter: "/" }),
    );
    const pages = [];
    for await (const page of paginateListObjectsV2(
      { client: s3, pageSize: 2 },
      { Bucket: bucket, Prefix: "docs/" },
    )) {
      pages.push({
        keys: (page.Contents ?? []).map((o) => o.Key),
        KeyCount: page.KeyCount,
        IsTruncated: page.IsTruncated,
        hasToken: Boolean(page.NextContinuationToken),
      });
    }
    const shape = (r) => ({
      keys: (r.Contents ?? []).map((o) => o.Key),
      sizes: (r.Contents ?? []).map((o) => o.Size),
      prefixes: (r.CommonPrefixes ?? []).map((p) => p.Prefix),
      KeyCount: r.KeyCount,
      IsTruncated: r.IsTruncated,
    });
    return { top: shape(top), docs: shape(docs), pages };
  },

  // DeleteObjects of existing and missing keys (verbose), then quiet.
  async "delete-objects"() {
    const s3 = client();
    const bucket = env("CW_BUCKET");
    const keys = JSON.parse(env("CW_KEYS"));
    const verbose = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: false },
      }),
    );
    const quiet = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: [{ Key: "quiet-1" }, { Key: "quiet-2" }], Quiet: true },
      }),
    );
    const rest = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    return {
      deleted: (verbose.Deleted ?? []).map((d) => d.Key).sort(),
      errors: verbose.Errors ?? [],
      quiet_deleted: quiet.Deleted ?? [],
      quiet_errors: quiet.Errors ?? [],
      remaining: (rest.Contents ?? []).map((o) => o.Key),
      request_headers: sent.find((r) => r.command === "DeleteObjectsCommand")?.headers ?? null,
    };
  },

  // lib-storage Upload: multipart with 5 MiB parts from a file stream, then read back.
  async upload() {
    const s3 = client();
    const bucket = env("CW_BUCKET");
    const key = "upload.bin";
    const parts = [];
    const upload = new Upload({
      client: s3,
      params: {
        Bucket: bucket,
        Key: key,
        Body: createReadStream(env("CW_FILE_IN")),
        ContentType: "application/x-cw-upload",
        Metadata: { via: "lib-storage" },
      },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
      leavePartsOnError: false,
    });
    upload.on("httpUploadProgress", (p) => parts.push(p.part));
    const result = await upload.done();
    const got = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }),
    );
    const bytes = await bodyBytes(got.Body);
    writeFileSync(env("CW_FILE_OUT"), bytes);
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }),
    );
    return {
      result: pick(result, ["ETag", "Key", "Bucket", "Location", "ChecksumCRC32", "ChecksumType"]),
      head: pick(head, ["ETag", "ContentLength", "ChecksumCRC32", "ChecksumType"]),
      parts_seen: [...new Set(parts)].sort((a, b) => a - b),
      create_headers:
        sent.find((r) => r.command === "CreateMultipartUploadCommand")?.headers ?? null,
      upload_part_headers: sent
        .filter((r) => r.command === "UploadPartCommand")
        .map((r) => r.headers),
      commands: [...new Set(sent.map((r) => r.command))],
      get: {
        ...pick(got, ["ETag", "ContentLength", "ContentType", "Metadata", "ChecksumCRC32"]),
        md5: md5(bytes),
      },
    };
  },

  // Presigned GET, PUT and HEAD URLs used with fetch; expired and tampered URLs.
  async presign() {
    const s3 = client();
    const bucket = env("CW_BUCKET");
    const key = env("CW_KEY");
    const out = {};
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: 300,
    });
    let r = await fetch(getUrl);
    const got = Buffer.from(await r.arrayBuffer());
    out.get = { status: r.status, md5: md5(got), length: got.length, url: getUrl };

    const headUrl = await getSignedUrl(s3, new HeadObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: 300,
    });
    r = await fetch(headUrl, { method: "HEAD" });
    out.head = {
      status: r.status,
      contentLength: r.headers.get("content-length"),
      etag: r.headers.get("etag"),
    };

    const body = readFileSync(env("CW_FILE_IN"));
    const putUrl = await getSignedUrl(
      s3,
      new PutObjectCommand({ Bucket: bucket, Key: `${key}.put`, ContentType: "text/x-presigned" }),
      { expiresIn: 300 },
    );
    r = await fetch(putUrl, {
      method: "PUT",
      body,
      headers: { "content-type": "text/x-presigned" },
    });
    out.put = { status: r.status, etag: r.headers.get("etag"), body: await r.text(), url: putUrl };

    // The client above (default requestChecksumCalculation WHEN_SUPPORTED) signs the CRC32 of
    // the empty body into the PUT URL (x-amz-checksum-crc32=AAAAAA==); AWS's advice for presigned
    // uploads is a client with WHEN_REQUIRED, which leaves it out.
    const plain = client({ requestChecksumCalculation: "WHEN_REQUIRED" });
    const putUrl2 = await getSignedUrl(
      plain,
      new PutObjectCommand({ Bucket: bucket, Key: `${key}.put2` }),
      { expiresIn: 300 },
    );
    r = await fetch(putUrl2, { method: "PUT", body });
    out.put_when_required = {
      status: r.status,
      etag: r.headers.get("etag"),
      body: await r.text(),
      url: putUrl2,
    };

    const shortUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: 1,
    });
    await sleep(2500);
    r = await fetch(shortUrl);
    out.expired = { status: r.status, body: await r.text() };

    // flip the last hex digit of the signature
    const tampered = new URL(getUrl);
    const sig = tampered.searchParams.get("X-Amz-Signature");
    const last = sig.at(-1) === "0" ? "1" : "0";
    tampered.searchParams.set("X-Amz-Signature", sig.slice(0, -1) + last);
    r = await fetch(tampered);
    out.tampered_signature = { status: r.status, body: await r.text() };

    // another key under the same signature
    const otherKey = new URL(getUrl);
    otherKey.pathname = otherKey.pathname + "x";
    r = await fetch(otherKey);
    out.tampered_path = { status: r.status, body: await r.text() };
    return out;
  },

  // Error names and HTTP statuses as the SDK reports them.
  async errors() {
    const s3 = client();
    const bucket = env("CW_BUCKET");
    const missingBucket = env("CW_MISSING_BUCKET");
    return {
      get_missing_key: await expectError(() =>
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: "no-such-key" })),
      ),
      get_missing_bucket: await expectError(() =>
        s3.send(new GetObjectCommand({ Bucket: missingBucket, Key: "k" })),
      ),
      head_missing_key: await expectError(() =>
        s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "no-such-key" })),
      ),
      list_missing_bucket: await expectError(() =>
        s3.send(new ListObjectsV2Command({ Bucket: missingBucket })),
      ),
      put_missing_bucket: await expectError(() =>
        s3.send(new PutObjectCommand({ Bucket: missingBucket, Key: "k", Body: "x" })),
      ),
      delete_nonempty_bucket: await expectError(() =>
        s3.send(new DeleteBucketCommand({ Bucket: bucket })),
      ),
      wrong_secret: await expectError(() =>
        client({
          credentials: { accessKeyId: env("CW_ACCESS_KEY"), secretAccessKey: "wrong-secret" },
        }).send(new GetObjectCommand({ Bucket: bucket, Key: "no-such-key" })),
      ),
    };
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  console.log(JSON.stringify({ error: `unknown scenario ${name}`, known: Object.keys(scenarios) }));
  process.exit(2);
}
try {
  const result = await scenarios[name]();
  console.log(JSON.stringify(result));
} catch (e) {
  console.log(JSON.stringify({ unexpected_error: errorInfo(e), stack: e.stack }));
  process.exit(1);
}
