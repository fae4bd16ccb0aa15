package rates

func Price(kg float64) float64 { return kg * 2.5 }
