pub fn balance(xs: &[i64]) -> i64 { xs.iter().sum() }
