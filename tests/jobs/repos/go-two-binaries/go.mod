module github.com/acme/shipping

go 1.24.1

require github.com/go-chi/chi/v5 v5.2.0
