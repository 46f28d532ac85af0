//! HTTP Range header arithmetic for GetObject (`bytes=a-b`, `bytes=a-`, `bytes=-n`).

use std::ops::Range;

/// What a Range header asks of an object of a given size.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable single range: send the whole object (S3 ignores malformed and multi-ranges).
    Whole,
    /// Send these bytes with 206.
    Partial(Range<u64>),
    /// 416 InvalidRange.
    Unsatisfiable,
}

pub fn parse(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (first.is_empty(), last.is_empty()) {
        (true, true) => RangeRequest::Whole,
        (true, false) => {
            // Suffix: the last n bytes.
            let Some(n) = digits(last).then(|| last.parse::<u64>().ok()).flatten() else {
                return RangeRequest::Whole;
            };
            if n == 0 || size == 0 {
                return RangeRequest::Unsatisfiable;
            }
            RangeRequest::Partial(size.saturating_sub(n)..size)
        }
        (false, _) => {
            let Some(a) = digits(first).then(|| first.parse::<u64>().ok()).flatten() else {
                return RangeRequest::Whole;
            };
            let b = if last.is_empty() {
                u64::MAX
            } else {
                match digits(last).then(|| last.parse::<u64>().ok()).flatten() {
                    Some(b) if b >= a => b,
                    _ => return RangeRequest::Whole,
                }
            };
            if a >= size {
                return RangeRequest::Unsatisfiable;
            }
            RangeRequest::Partial(a..b.min(size - 1) + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(parse(Some("bytes=0-9"), 100), RangeRequest::Partial(0..10));
        assert_eq!(
            parse(Some("bytes=90-"), 100),
            RangeRequest::Partial(90..100)
        );
        assert_eq!(
            parse(Some("bytes=-10"), 100),
            RangeRequest::Partial(90..100)
        );
        assert_eq!(
            parse(Some("bytes=-1000"), 100),
            RangeRequest::Partial(0..100)
        );
        assert_eq!(
            parse(Some("bytes=50-1000"), 100),
            RangeRequest::Partial(50..100)
        );
        assert_eq!(parse(Some("bytes=100-"), 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-0"), 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=5-2"), 100), RangeRequest::Whole);
        assert_eq!(parse(Some("bytes=0-1,5-6"), 100), RangeRequest::Whole);
        assert_eq!(parse(Some("items=0-1"), 100), RangeRequest::Whole);
        assert_eq!(parse(None, 100), RangeRequest::Whole);
    }

    proptest! {
        #[test]
        fn partial_ranges_stay_inside(size in 0u64..10_000, a in 0u64..12_000, b in 0u64..12_000, n in 0u64..12_000) {
            for header in [format!("bytes={a}-{b}"), format!("bytes={a}-"), format!("bytes=-{n}")] {
                match parse(Some(&header), size) {
                    RangeRequest::Partial(r) => {
                        prop_assert!(r.start < r.end && r.end <= size, "{header} {size} {r:?}");
                    }
                    RangeRequest::Unsatisfiable => prop_assert!(size == 0 || a >= size || n == 0),
                    RangeRequest::Whole => prop_assert!(header.contains('-') && b < a && !header.ends_with('-') && !header.starts_with("bytes=-")),
                }
            }
        }
    }
}
