package main

import (
	"log"
	"time"
)

func main() {
	for {
		log.Println("polling queue")
		time.Sleep(5 * time.Second)
	}
}
