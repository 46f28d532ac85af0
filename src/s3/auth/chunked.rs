//! aws-chunked decoding as a stream adapter: chunk signatures and trailers.
