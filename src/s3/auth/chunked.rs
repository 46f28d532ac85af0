//! aws-chunked decoding as a stream adapter: chunk signatures and trailers.
//!
//! Wire format: `hex-size[;chunk-signature=sig]\r\n<data>\r\n` repeated, then a zero-size
//! chunk, then optional trailer lines (`name:value\r\n`) and an empty line. Data is passed on
//! as it arrives (zero-copy slices of the input), so memory stays bounded by one header or
//! trailer line, never a chunk. Each chunk's signature is checked as soon as its data ends;
//! the data of a chunk may reach the consumer before that check, but every failure is yielded
//! before the stream ends, and the consumer commits only at a clean end.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use sha2::{Digest, Sha256};

use super::BodyStream;
use super::sigv4::{EMPTY_SHA256, SignatureChain, is_signature, sha256_hex, signatures_match};
use crate::s3::error::{S3Error, S3ErrorCode};

/// Largest chunk accepted (the SDKs send 64 KiB to 1 MiB).
pub(crate) const MAX_CHUNK_SIZE: u64 = 16 << 20;
/// Longest chunk header or trailer line, CRLF included.
pub(crate) const MAX_LINE: usize = 4096;
/// Most trailer lines accepted.
pub(crate) const MAX_TRAILERS: usize = 16;

const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// How chunks are protected.
pub(crate) enum ChunkSigning {
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: no signatures.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: every chunk signed, chained from the seed
    /// signature; with `trailer`, the trailer lines are signed too.
    Signed {
        chain: SignatureChain,
        trailer: bool,
    },
}

enum State {
    /// Reading `hex-size[;ext]\r\n`.
    Header,
    /// Passing on chunk data.
    Data { remaining: u64 },
    /// Expecting the `\r\n` after chunk data.
    DataEnd,
    /// After the zero-size chunk: trailer lines up to an empty line.
    Trailers,
    /// Everything parsed; only the end of input may follow.
    Done,
    /// An error was yielded; nothing more.
    Failed,
}

/// What one step of the parser produced.
enum Step {
    Emit(Bytes),
    NeedInput,
    End,
}

pub(crate) struct AwsChunkedDecoder {
    inner: BodyStream,
    /// Unconsumed input.
    pending: Bytes,
    eof: bool,
    state: State,
    /// Partial header/trailer line.
    line: Vec<u8>,
    signing: ChunkSigning,
    /// The previous signature of the chain.
    prev_signature: String,
    /// The signature sent in the current chunk's header.
    chunk_signature: Option<String>,
    chunk_hash: Sha256,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<String>,
}

fn framing(message: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::IncompleteBody, message)
}

fn signature_mismatch(what: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::SignatureDoesNotMatch,
        format!("The {what} signature we calculated does not match the signature you provided."),
    )
}

impl AwsChunkedDecoder {
    pub(crate) fn new(inner: BodyStream, signing: ChunkSigning) -> Self {
        let prev_signature = match &signing {
            ChunkSigning::Signed { chain, .. } => chain.seed_signature.clone(),
            ChunkSigning::Unsigned => String::new(),
        };
        Self {
            inner,
            pending: Bytes::new(),
            eof: false,
            state: State::Header,
            line: Vec::new(),
            signing,
            prev_signature,
            chunk_signature: None,
            chunk_hash: Sha256::new(),
            trailers: Vec::new(),
            trailer_signature: None,
        }
    }

    /// The trailer lines (`name` lower-case, both trimmed), once the stream has ended cleanly.
    /// The trailer signature, if any, has been checked and is not among them.
    pub(crate) fn take_trailers(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.trailers)
    }

    fn chain(&self) -> Option<(&SignatureChain, bool)> {
        match &self.signing {
            ChunkSigning::Signed { chain, trailer } => Some((chain, *trailer)),
            ChunkSigning::Unsigned => None,
        }
    }

    /// Collects bytes up to and including `\n` into `self.line`. `Ok(true)` when a full line
    /// is there, `Ok(false)` when more input is needed.
    fn fill_line(&mut self, max: usize) -> Result<bool, S3Error> {
        let newline = self.pending.iter().position(|&b| b == b'\n');
        let take = newline.map_or(self.pending.len(), |i| i + 1);
        if self.line.len() + take > max {
            return Err(framing(format!("aws-chunked line longer than {max} bytes")));
        }
        self.line.extend_from_slice(&self.pending.split_to(take));
        Ok(newline.is_some())
    }

    /// Verifies the current chunk's signature and advances the chain.
    fn check_chunk(&mut self, signature: Option<String>, data_hash: &str) -> Result<(), S3Error> {
        let Some((chain, _)) = self.chain() else {
            return Ok(());
        };
        let Some(provided) = signature else {
            return Err(framing("aws-chunked chunk without chunk-signature"));
        };
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{data_hash}",
            chain.amz_date, chain.scope, self.prev_signature
        );
        if !signatures_match(&chain.sign(&string_to_sign), &provided) {
            return Err(signature_mismatch("chunk"));
        }
        self.prev_signature = provided;
        Ok(())
    }

    fn parse_header(&mut self) -> Result<(u64, Option<String>), S3Error> {
        let line = std::mem::take(&mut self.line);
        let Some(line) = line.strip_suffix(b"\r\n") else {
            return Err(framing("aws-chunked chunk header must end with CRLF"));
        };
        let line = std::str::from_utf8(line)
            .map_err(|_| framing("aws-chunked chunk header is not ASCII"))?;
        let (size, ext) = match line.split_once(';') {
            Some((s, e)) => (s, Some(e)),
            None => (line, None),
        };
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(framing(format!(
                "invalid aws-chunked chunk size \"{size}\""
            )));
        }
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| framing(format!("invalid aws-chunked chunk size \"{size}\"")))?;
        if size > MAX_CHUNK_SIZE {
            return Err(S3Error::new(
                S3ErrorCode::InvalidChunkSizeError,
                format!("aws-chunked chunk of {size} bytes exceeds the limit of {MAX_CHUNK_SIZE}"),
            ));
        }
        let signature = if self.chain().is_some() {
            let sig = ext
                .and_then(|e| e.strip_prefix("chunk-signature="))
                .filter(|s| is_signature(s))
                .ok_or_else(|| {
                    framing("aws-chunked chunk header needs chunk-signature=<64 hex>")
                })?;
            Some(sig.to_owned())
        } else {
            None
        };
        Ok((size, signature))
    }

    fn parse_trailer(&mut self) -> Result<bool, S3Error> {
        let mut line = std::mem::take(&mut self.line);
        line.pop(); // '\n'
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            return Ok(true);
        }
        let trailer_mode = !matches!(self.signing, ChunkSigning::Signed { trailer: false, .. });
        if !trailer_mode {
            return Err(framing("unexpected data after the final aws-chunked chunk"));
        }
        let line = std::str::from_utf8(&line)
            .map_err(|_| framing("aws-chunked trailer is not valid UTF-8"))?;
        let Some((name, value)) = line.split_once(':') else {
            return Err(framing("aws-chunked trailer must be \"name:value\""));
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_owned();
        if name.is_empty() {
            return Err(framing("aws-chunked trailer with an empty name"));
        }
        if name == TRAILER_SIGNATURE {
            if !matches!(self.signing, ChunkSigning::Signed { trailer: true, .. })
                || self.trailer_signature.is_some()
            {
                return Err(framing("unexpected x-amz-trailer-signature"));
            }
            self.trailer_signature = Some(value);
        } else {
            if self.trailer_signature.is_some() {
                return Err(framing("trailer after x-amz-trailer-signature"));
            }
            if self.trailers.len() >= MAX_TRAILERS {
                return Err(framing("too many aws-chunked trailers"));
            }
            self.trailers.push((name, value));
        }
        Ok(false)
    }

    fn check_trailer_signature(&mut self) -> Result<(), S3Error> {
        let Some((chain, true)) = self.chain() else {
            return Ok(());
        };
        let Some(provided) = self.trailer_signature.as_deref() else {
            return Err(framing("missing x-amz-trailer-signature"));
        };
        let mut sorted: Vec<&(String, String)> = self.trailers.iter().collect();
        sorted.sort();
        let mut canonical = String::new();
        for (name, value) in sorted {
            canonical.push_str(name);
            canonical.push(':');
            canonical.push_str(value);
            canonical.push('\n');
        }
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            chain.amz_date,
            chain.scope,
            self.prev_signature,
            sha256_hex(canonical.as_bytes())
        );
        if !signatures_match(&chain.sign(&string_to_sign), provided) {
            return Err(signature_mismatch("trailer"));
        }
        Ok(())
    }

    /// Advances the parser over `pending` as far as it can.
    fn step(&mut self) -> Result<Step, S3Error> {
        loop {
            if self.pending.is_empty() && !matches!(self.state, State::Done | State::Failed) {
                if self.eof {
                    return Err(framing("the aws-chunked body ended before its final chunk"));
                }
                return Ok(Step::NeedInput);
            }
            match &mut self.state {
                State::Failed => return Ok(Step::End),
                State::Done => {
                    if !self.pending.is_empty() {
                        return Err(framing("unexpected data after the aws-chunked body"));
                    }
                    return Ok(if self.eof { Step::End } else { Step::NeedInput });
                }
                State::Header => {
                    if !self.fill_line(MAX_LINE)? {
                        continue;
                    }
                    let (size, signature) = self.parse_header()?;
                    if size == 0 {
                        self.check_chunk(signature, EMPTY_SHA256)?;
                        self.state = State::Trailers;
                    } else {
                        self.chunk_signature = signature;
                        self.state = State::Data { remaining: size };
                    }
                }
                State::Data { remaining } => {
                    let n = (*remaining).min(self.pending.len() as u64) as usize;
                    let data = self.pending.split_to(n);
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.state = State::DataEnd;
                    }
                    if self.chain().is_some() {
                        self.chunk_hash.update(&data);
                    }
                    return Ok(Step::Emit(data));
                }
                State::DataEnd => {
                    if !self.fill_line(2)? {
                        continue;
                    }
                    if self.line != b"\r\n" {
                        return Err(framing("aws-chunked chunk data must end with CRLF"));
                    }
                    self.line.clear();
                    let signature = self.chunk_signature.take();
                    if self.chain().is_some() {
                        let hash = hex::encode(self.chunk_hash.finalize_reset());
                        self.check_chunk(signature, &hash)?;
                    }
                    self.state = State::Header;
                }
                State::Trailers => {
                    if !self.fill_line(MAX_LINE)? {
                        continue;
                    }
                    if self.parse_trailer()? {
                        self.check_trailer_signature()?;
                        self.state = State::Done;
                    }
                }
            }
        }
    }
}

impl Stream for AwsChunkedDecoder {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.step() {
                Ok(Step::Emit(data)) => {
                    if !data.is_empty() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Ok(Step::End) => return Poll::Ready(None),
                Ok(Step::NeedInput) => match this.inner.as_mut().poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(data))) => this.pending = data,
                    Poll::Ready(Some(Err(e))) => {
                        this.state = State::Failed;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(None) => this.eof = true,
                },
                Err(e) => {
                    this.state = State::Failed;
                    this.pending = Bytes::new();
                    return Poll::Ready(Some(Err(std::io::Error::other(e))));
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::s3::auth::body_error;
    use crate::s3::auth::sigv4::tests::{AK, SK, example_time, keys, parts};
    use futures::StreamExt;
    use proptest::prelude::*;

    /// A body stream from fragments.
    pub(crate) fn body_of(fragments: Vec<Vec<u8>>) -> BodyStream {
        Box::pin(futures::stream::iter(
            fragments.into_iter().map(|f| Ok(Bytes::from(f))),
        ))
    }

    /// Splits `data` into pieces of the given sizes (cycled).
    pub(crate) fn fragment(data: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        let mut k = 0;
        while i < data.len() {
            let n = sizes[k % sizes.len()].max(1).min(data.len() - i);
            out.push(data[i..i + n].to_vec());
            i += n;
            k += 1;
        }
        out
    }

    pub(crate) async fn collect(
        mut s: impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
    ) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => return Err(body_error(&e)),
            }
        }
        Ok(out)
    }

    /// Encodes `payload` as aws-chunked with the given chunk sizes; signs when `chain` is given.
    pub(crate) fn encode(
        payload: &[u8],
        sizes: &[usize],
        chain: Option<&SignatureChain>,
        trailers: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = chain.map(|c| c.seed_signature.clone());
        let mut sign = |data: &[u8], out: &mut Vec<u8>| {
            if let (Some(c), Some(p)) = (chain, prev.as_mut()) {
                let sts = format!(
                    "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{p}\n{EMPTY_SHA256}\n{}",
                    c.amz_date,
                    c.scope,
                    sha256_hex(data)
                );
                *p = c.sign(&sts);
                out.extend_from_slice(format!(";chunk-signature={p}").as_bytes());
            }
        };
        for piece in fragment(payload, sizes) {
            out.extend_from_slice(format!("{:x}", piece.len()).as_bytes());
            sign(&piece, &mut out);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0");
        sign(b"", &mut out);
        out.extend_from_slice(b"\r\n");
        for (n, v) in trailers {
            out.extend_from_slice(format!("{n}:{v}\r\n").as_bytes());
        }
        if let (Some(c), Some(p), false) = (chain, prev.as_ref(), trailers.is_empty()) {
            let mut sorted: Vec<String> =
                trailers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
            sorted.sort();
            let sts = format!(
                "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{p}\n{}",
                c.amz_date,
                c.scope,
                sha256_hex(sorted.concat().as_bytes())
            );
            out.extend_from_slice(
                format!("x-amz-trailer-signature:{}\r\n", c.sign(&sts)).as_bytes(),
            );
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

    /// The AWS STREAMING-AWS4-HMAC-SHA256-PAYLOAD example request.
    pub(crate) fn example_streaming_parts() -> http::request::Parts {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
             x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}"
        );
        parts(
            "PUT",
            "/examplebucket/chunkObject.txt",
            &[
                ("host", "s3.amazonaws.com"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("authorization", &auth),
                ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "66560"),
                ("content-length", "66824"),
            ],
        )
    }

    /// The body of the AWS example: 64 KiB then 1 KiB of 'a', with the documented signatures.
    pub(crate) fn example_streaming_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(
            b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
        );
        body.extend_from_slice(&[b'a'; 65536]);
        body.extend_from_slice(
            b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n",
        );
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(
            b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n",
        );
        body
    }

    fn example_chain() -> SignatureChain {
        let auth =
            crate::s3::auth::authenticate(&example_streaming_parts(), &keys(), example_time())
                .unwrap();
        assert_eq!(auth.payload, crate::s3::auth::PayloadMode::StreamingSigned);
        auth.chain
    }

    fn signed(chain: &SignatureChain, trailer: bool) -> ChunkSigning {
        ChunkSigning::Signed {
            chain: chain.clone(),
            trailer,
        }
    }

    fn decode(body: Vec<u8>, frag: &[usize], signing: ChunkSigning) -> Result<Vec<u8>, S3Error> {
        let dec = AwsChunkedDecoder::new(body_of(fragment(&body, frag)), signing);
        futures::executor::block_on(collect(dec))
    }

    #[test]
    fn aws_streaming_example_verifies() {
        let chain = example_chain();
        assert_eq!(chain.seed_signature, SEED);
        let body = example_streaming_body();
        assert_eq!(body.len(), 66824);
        for frag in [&[usize::MAX][..], &[1], &[7, 100, 3], &[65536 + 90]] {
            let out = decode(body.clone(), frag, signed(&chain, false)).unwrap();
            assert_eq!(out.len(), 66560);
            assert!(out.iter().all(|&b| b == b'a'));
        }
        // Our encoder reproduces the documented bytes.
        assert_eq!(
            encode(&[b'a'; 66560], &[65536, 1024], Some(&chain), &[]),
            body
        );
    }

    #[test]
    fn aws_streaming_example_tampered_chunk() {
        let chain = example_chain();
        // A changed data byte in the first chunk, in the second, and a changed final signature.
        for pos in [100, 65536 + 200, 66824 - 10] {
            let mut body = example_streaming_body();
            body[pos] ^= 1;
            let err = decode(body, &[4096], signed(&chain, false)).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch, "pos {pos}");
        }
        // Chunks swapped for the same bytes under a different seed.
        let mut other = chain.clone();
        other.seed_signature = "0".repeat(64);
        let err = decode(example_streaming_body(), &[4096], signed(&other, false)).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);
    }

    #[test]
    fn unsigned_trailer_is_parsed() {
        let body = encode(
            b"hello world",
            &[4, 100],
            None,
            &[("x-amz-checksum-crc32", "DUoRhQ==")],
        );
        let mut dec =
            AwsChunkedDecoder::new(body_of(fragment(&body, &[3])), ChunkSigning::Unsigned);
        let out = futures::executor::block_on(async {
            let mut out = Vec::new();
            while let Some(b) = dec.next().await {
                out.extend_from_slice(&b.unwrap());
            }
            out
        });
        assert_eq!(out, b"hello world");
        assert_eq!(
            dec.take_trailers(),
            vec![("x-amz-checksum-crc32".to_owned(), "DUoRhQ==".to_owned())]
        );
    }

    #[test]
    fn signed_trailer_verifies_and_detects_tampering() {
        let chain = example_chain();
        let body = encode(
            b"0123456789",
            &[3],
            Some(&chain),
            &[("x-amz-checksum-crc32", "AAAAAA==")],
        );
        assert_eq!(
            decode(body.clone(), &[5], signed(&chain, true)).unwrap(),
            b"0123456789"
        );
        let text = String::from_utf8(body.clone()).unwrap();
        let tampered = text.replace("AAAAAA==", "AAAAAB==").into_bytes();
        assert_eq!(
            decode(tampered, &[5], signed(&chain, true))
                .unwrap_err()
                .code,
            S3ErrorCode::SignatureDoesNotMatch
        );
        // Without the trailer signature line.
        let pos = text.find("x-amz-trailer-signature").unwrap();
        let stripped = format!("{}\r\n", &text[..pos]).into_bytes();
        assert_eq!(
            decode(stripped, &[5], signed(&chain, true))
                .unwrap_err()
                .code,
            S3ErrorCode::IncompleteBody
        );
    }

    #[test]
    fn framing_errors() {
        let cases: &[&[u8]] = &[
            b"",                         // no final chunk
            b"5\r\nhello\r\n",           // truncated before final chunk
            b"5\r\nhell",                // truncated data
            b"5\r\nhelloX\r\n0\r\n\r\n", // missing CRLF after data
            b"z\r\nhello\r\n0\r\n\r\n",  // bad size
            b"5\nhello\r\n0\r\n\r\n",    // header without CR
            b"0\r\n\r\nextra",           // data after the end
            b"0\r\nnot a trailer\r\n\r\n",
            b"0\r\n", // no final empty line
        ];
        for case in cases {
            let err = decode(case.to_vec(), &[2], ChunkSigning::Unsigned).unwrap_err();
            assert_eq!(
                err.code,
                S3ErrorCode::IncompleteBody,
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
        let big = format!("{:x}\r\n", MAX_CHUNK_SIZE + 1).into_bytes();
        assert_eq!(
            decode(big, &[100], ChunkSigning::Unsigned)
                .unwrap_err()
                .code,
            S3ErrorCode::InvalidChunkSizeError
        );
        let long = vec![b'1'; MAX_LINE + 10];
        assert_eq!(
            decode(long, &[100], ChunkSigning::Unsigned)
                .unwrap_err()
                .code,
            S3ErrorCode::IncompleteBody
        );
        let chain = example_chain();
        // A signed stream needs signatures.
        assert_eq!(
            decode(b"0\r\n\r\n".to_vec(), &[100], signed(&chain, false))
                .unwrap_err()
                .code,
            S3ErrorCode::IncompleteBody
        );
        // Trailers are refused without a trailer mode.
        let body = encode(
            b"abc",
            &[3],
            Some(&chain),
            &[("x-amz-checksum-crc32", "AAAAAA==")],
        );
        assert_eq!(
            decode(body, &[100], signed(&chain, false))
                .unwrap_err()
                .code,
            S3ErrorCode::IncompleteBody
        );
    }

    #[test]
    fn too_many_trailers() {
        let trailers: Vec<(String, String)> = (0..=MAX_TRAILERS)
            .map(|i| (format!("x-t{i}"), "v".to_owned()))
            .collect();
        let refs: Vec<(&str, &str)> = trailers
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let body = encode(b"abc", &[3], None, &refs);
        assert_eq!(
            decode(body, &[100], ChunkSigning::Unsigned)
                .unwrap_err()
                .code,
            S3ErrorCode::IncompleteBody
        );
    }

    #[test]
    fn inner_error_is_passed_on() {
        let inner: BodyStream = Box::pin(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"3\r\nab")),
            Err(std::io::Error::other(S3Error::new(
                S3ErrorCode::InternalError,
                "x",
            ))),
        ]));
        let dec = AwsChunkedDecoder::new(inner, ChunkSigning::Unsigned);
        let err = futures::executor::block_on(collect(dec)).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InternalError);
        let _ = SK;
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn prop_roundtrip(
            payload in proptest::collection::vec(any::<u8>(), 0..3000),
            sizes in proptest::collection::vec(1usize..700, 1..6),
            frags in proptest::collection::vec(1usize..300, 1..6),
            signed_mode in any::<bool>(),
        ) {
            let chain = example_chain();
            let (body, signing) = if signed_mode {
                (encode(&payload, &sizes, Some(&chain), &[]), signed(&chain, false))
            } else {
                (encode(&payload, &sizes, None, &[("x-amz-checksum-crc32", "AAAAAA==")]), ChunkSigning::Unsigned)
            };
            prop_assert_eq!(decode(body, &frags, signing).unwrap(), payload);
        }

        #[test]
        fn prop_corruption_is_detected(
            payload in proptest::collection::vec(any::<u8>(), 1..2000),
            sizes in proptest::collection::vec(1usize..500, 1..4),
            frags in proptest::collection::vec(1usize..300, 1..4),
            pos in any::<proptest::sample::Index>(),
            flip in 1u8..=255,
            truncate in any::<bool>(),
        ) {
            let chain = example_chain();
            let mut body = encode(&payload, &sizes, Some(&chain), &[]);
            let i = pos.index(body.len());
            if truncate {
                body.truncate(i);
                prop_assert!(decode(body, &frags, signed(&chain, false)).is_err());
            } else {
                body[i] ^= flip;
                // Either the corruption is caught, or it was harmless (e.g. hex case): never
                // different bytes.
                match decode(body, &frags, signed(&chain, false)) {
                    Ok(out) => prop_assert_eq!(out, payload),
                    Err(e) => prop_assert!(matches!(
                        e.code,
                        S3ErrorCode::SignatureDoesNotMatch
                            | S3ErrorCode::IncompleteBody
                            | S3ErrorCode::InvalidChunkSizeError
                    )),
                }
            }
        }

        #[test]
        fn prop_unsigned_truncation_is_detected(
            payload in proptest::collection::vec(any::<u8>(), 0..1000),
            sizes in proptest::collection::vec(1usize..300, 1..4),
            cut in any::<proptest::sample::Index>(),
        ) {
            let body = encode(&payload, &sizes, None, &[("x-amz-checksum-sha256", "x")]);
            let cut = cut.index(body.len());
            prop_assert!(decode(body[..cut].to_vec(), &[17], ChunkSigning::Unsigned).is_err());
        }
    }
}
