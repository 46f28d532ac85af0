//! Placement: which location holds which shard, and the rules a policy must satisfy
//! (DESIGN.md "Placement"). Pure arithmetic over counts.

// HELPER-D: implement. Interface below is fixed; bodies are placeholders.

#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error("no locations configured")]
    NoLocations,
    #[error(
        "losing location {location} would leave {left} of {n} shards, fewer than k={k}: data would be lost"
    )]
    LossNotSurvivable {
        location: usize,
        left: usize,
        n: usize,
        k: usize,
    },
}

/// What a placement tolerates, for config validation and the evidence report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementRisk {
    /// Shards held by each location.
    pub shards_per_location: Vec<usize>,
    /// Losing any single location leaves ≥ k shards.
    pub survives_any_single_loss: bool,
    /// Some location alone holds ≥ k shards (could rebuild the ciphertext by itself).
    pub single_location_can_rebuild: bool,
}

/// Shard index → location index, spreading n = k+m shards round-robin over `locations`.
pub fn place(_k: usize, _m: usize, _locations: usize) -> Vec<usize> {
    todo!()
}

/// Risk figures of `place(k, m, locations)`.
pub fn assess(_k: usize, _m: usize, _locations: usize) -> PlacementRisk {
    todo!()
}

/// Err unless losing any one location leaves ≥ k shards.
pub fn validate(_k: usize, _m: usize, _locations: usize) -> Result<PlacementRisk, PlacementError> {
    todo!()
}
