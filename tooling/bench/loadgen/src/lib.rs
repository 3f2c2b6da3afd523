//! Shared pieces of the bench tools: the generated KeyValue API and latency percentiles.

/// Generated protobuf and tonic code for the KeyValue API (from `proto/`).
#[allow(clippy::all, missing_docs)]
pub mod pb {
    pub mod prism {
        tonic::include_proto!("prism");
        pub mod keyvalue {
            pub mod v1 {
                tonic::include_proto!("prism.keyvalue.v1");
            }
        }
    }
    pub use prism::keyvalue::v1 as kv;
}

/// The value `q` (0..=1) of sorted `samples` by nearest rank; 0 for no samples.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), 500);
        assert_eq!(percentile(&v, 0.99), 990);
        assert_eq!(percentile(&v, 0.999), 999);
        assert_eq!(percentile(&v, 1.0), 1000);
        assert_eq!(percentile(&[7], 0.999), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
