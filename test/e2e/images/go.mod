module k6gate.local/e2e/images

go 1.26
