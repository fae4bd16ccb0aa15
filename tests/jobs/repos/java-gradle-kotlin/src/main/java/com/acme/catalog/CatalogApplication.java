package com.acme.catalog;

@org.springframework.boot.autoconfigure.SpringBootApplication
public class CatalogApplication {
    public static void main(String[] args) {
        org.springframework.boot.SpringApplication.run(CatalogApplication.class, args);
    }
}
