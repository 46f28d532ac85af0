//! XML bodies of requests and responses.

/// Escapes text for an XML element body or attribute.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}
