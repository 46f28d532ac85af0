//! Placement: which location holds which shard, and the rules a policy must satisfy
//! (DESIGN.md "Placement"). Pure arithmetic over counts.

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
/// Empty when there are no locations.
pub fn place(k: usize, m: usize, locations: usize) -> Vec<usize> {
    if locations == 0 {
        return Vec::new();
    }
    (0..k + m).map(|shard| shard % locations).collect()
}

/// Risk figures of `place(k, m, locations)`.
pub fn assess(k: usize, m: usize, locations: usize) -> PlacementRisk {
    let n = k + m;
    let mut shards_per_location = vec![0; locations];
    for location in place(k, m, locations) {
        shards_per_location[location] += 1;
    }
    PlacementRisk {
        survives_any_single_loss: locations > 0
            && shards_per_location.iter().all(|&count| n - count >= k),
        single_location_can_rebuild: shards_per_location.iter().any(|&count| count >= k),
        shards_per_location,
    }
}

/// Err unless losing any one location leaves ≥ k shards.
pub fn validate(k: usize, m: usize, locations: usize) -> Result<PlacementRisk, PlacementError> {
    if locations == 0 {
        return Err(PlacementError::NoLocations);
    }
    let risk = assess(k, m, locations);
    let n = k + m;
    if let Some((location, &count)) = risk
        .shards_per_location
        .iter()
        .enumerate()
        .find(|&(_, &count)| n - count < k)
    {
        return Err(PlacementError::LossNotSurvivable {
            location,
            left: n - count,
            n,
            k,
        });
    }
    Ok(risk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_four_two_over_three() {
        assert_eq!(place(4, 2, 3), vec![0, 1, 2, 0, 1, 2]);
        let risk = assess(4, 2, 3);
        assert_eq!(
            risk,
            PlacementRisk {
                shards_per_location: vec![2, 2, 2],
                survives_any_single_loss: true,
                single_location_can_rebuild: false,
            }
        );
        assert_eq!(validate(4, 2, 3).unwrap(), risk);
    }

    #[test]
    fn four_two_over_two_is_rejected() {
        let risk = assess(4, 2, 2);
        assert_eq!(risk.shards_per_location, vec![3, 3]);
        assert!(!risk.survives_any_single_loss);
        assert!(!risk.single_location_can_rebuild);
        assert!(matches!(
            validate(4, 2, 2),
            Err(PlacementError::LossNotSurvivable {
                location: 0,
                left: 3,
                n: 6,
                k: 4
            })
        ));
    }

    #[test]
    fn edge_cases() {
        assert!(matches!(
            validate(4, 2, 0),
            Err(PlacementError::NoLocations)
        ));
        assert!(place(4, 2, 0).is_empty());
        let none = assess(4, 2, 0);
        assert!(!none.survives_any_single_loss && !none.single_location_can_rebuild);
        // One location: it holds everything and its loss loses everything.
        let one = assess(2, 1, 1);
        assert_eq!(one.shards_per_location, vec![3]);
        assert!(one.single_location_can_rebuild && !one.survives_any_single_loss);
        assert!(validate(2, 1, 1).is_err());
        // More locations than shards: some hold none; losing one still leaves enough.
        assert_eq!(assess(2, 1, 5).shards_per_location, vec![1, 1, 1, 0, 0]);
        assert!(validate(2, 1, 5).is_ok());
        // Uneven spread: 4+1 over 3 → [2,2,1], losing location 0 leaves 3 < 4.
        assert!(matches!(
            validate(4, 1, 3),
            Err(PlacementError::LossNotSurvivable {
                location: 0,
                left: 3,
                n: 5,
                k: 4
            })
        ));
        // k=1 replicas: every location can rebuild alone.
        let rep = validate(1, 2, 3).unwrap();
        assert!(rep.single_location_can_rebuild);
    }

    #[test]
    fn validate_agrees_with_brute_force() {
        for k in 1..=8 {
            for m in 0..=4 {
                for l in 1..=7 {
                    let map = place(k, m, l);
                    assert_eq!(map.len(), k + m);
                    let survives =
                        (0..l).all(|lost| map.iter().filter(|&&x| x != lost).count() >= k);
                    let alone = (0..l).any(|loc| map.iter().filter(|&&x| x == loc).count() >= k);
                    let risk = assess(k, m, l);
                    assert_eq!(risk.survives_any_single_loss, survives, "{k}+{m} over {l}");
                    assert_eq!(risk.single_location_can_rebuild, alone, "{k}+{m} over {l}");
                    assert_eq!(risk.shards_per_location.iter().sum::<usize>(), k + m);
                    assert_eq!(validate(k, m, l).is_ok(), survives, "{k}+{m} over {l}");
                }
            }
        }
    }
}
