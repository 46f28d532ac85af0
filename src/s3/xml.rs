//! XML bodies: a small writer for responses and serde (quick-xml) structs for requests, read
//! under a size cap.

use serde::Deserialize;

use super::error::{S3Error, S3ErrorCode, S3Result};

/// Escapes text for an XML element body.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

/// Builds an S3 response document.
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// Starts a document whose root element carries the S3 namespace.
    pub fn new(root: &str) -> Self {
        let mut out = String::with_capacity(1024);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        out.push_str(root);
        out.push_str(" xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        Self { out }
    }
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }
    pub fn elem(&mut self, name: &str, text: impl AsRef<str>) -> &mut Self {
        self.open(name);
        self.out.push_str(&escape(text.as_ref()));
        self.close(name)
    }
    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.out
    }
}

/// Largest XML request body accepted (DeleteObjects with 1000 long keys fits).
pub const MAX_XML_BODY: usize = 2 * 1024 * 1024;

/// Parses an XML request body.
pub fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> S3Result<T> {
    let text = std::str::from_utf8(body).map_err(|_| {
        S3Error::new(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed",
        )
    })?;
    quick_xml::de::from_str(text).map_err(|e| {
        S3Error::new(
            S3ErrorCode::MalformedXML,
            format!("The XML you provided was not well-formed or did not validate: {e}"),
        )
    })
}

#[derive(Debug, Deserialize)]
pub struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumCRC32")]
    pub checksum_crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C")]
    pub checksum_crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME")]
    pub checksum_crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1")]
    pub checksum_sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256")]
    pub checksum_sha256: Option<String>,
}

impl CompletedPart {
    /// The checksum the client lists for this part, as (algorithm, value).
    pub fn checksum(&self) -> Option<(&'static str, &str)> {
        [
            ("CRC32", &self.checksum_crc32),
            ("CRC32C", &self.checksum_crc32c),
            ("CRC64NVME", &self.checksum_crc64nvme),
            ("SHA1", &self.checksum_sha1),
            ("SHA256", &self.checksum_sha256),
        ]
        .into_iter()
        .find_map(|(alg, v)| v.as_deref().map(|v| (alg, v)))
    }
}

#[derive(Debug, Deserialize)]
pub struct Delete {
    #[serde(rename = "Quiet", default)]
    pub quiet: bool,
    #[serde(rename = "Object", default)]
    pub objects: Vec<DeleteEntry>,
}

#[derive(Debug, Deserialize)]
pub struct DeleteEntry {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId")]
    pub version_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_complete_and_delete() {
        let c: CompleteMultipartUpload = parse(
            br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part><Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>"#,
        )
        .unwrap();
        assert_eq!(c.parts.len(), 2);
        assert_eq!(c.parts[0].etag, "\"a\"");
        assert_eq!(c.parts[0].checksum(), Some(("CRC32", "AAAAAA==")));
        assert_eq!(c.parts[1].part_number, 2);
        let d: Delete = parse(b"<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object></Delete>").unwrap();
        assert!(d.quiet);
        assert_eq!(
            d.objects.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
            ["a&b", "c"]
        );
        assert_eq!(
            parse::<Delete>(b"<Delete><Object>").unwrap_err().code,
            S3ErrorCode::MalformedXML
        );
    }

    #[test]
    fn writer_escapes() {
        let mut w = XmlWriter::new("R");
        w.elem("Key", "a<b&c");
        assert!(w.finish("R").ends_with("<Key>a&lt;b&amp;c</Key></R>"));
    }
}
