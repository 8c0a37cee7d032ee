// Command e2e-app is the workload of the e2e cluster's smoke check, one static binary:
//
//	e2e-app serve ADDR       an HTTP server: GET / answers "e2e-app <hostname>"
//	e2e-app get URL [TRIES]  GET URL until it answers 200 (1 s apart, 10 tries by default),
//	                         print the body, exit 1 if it never did
//
// Debian's busybox-static wget segfaults, hence a Go client (its resolver reads the
// pod's /etc/resolv.conf, search domains and ndots included).
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: e2e-app serve ADDR | get URL [TRIES]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2])
	case "get":
		tries := 10
		if len(os.Args) > 3 {
			n, err := strconv.Atoi(os.Args[3])
			if err != nil || n < 1 {
				fmt.Fprintln(os.Stderr, "TRIES must be a positive integer")
				os.Exit(2)
			}
			tries = n
		}
		os.Exit(get(os.Args[2], tries))
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func serve(addr string) {
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "e2e-app %s\n", host)
	})
	server := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("serving on %s\n", addr)
	if err := server.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func get(url string, tries int) int {
	client := &http.Client{Timeout: 3 * time.Second}
	for i := 1; ; i++ {
		body, err := getOnce(client, url)
		if err == nil {
			fmt.Print(body)
			return 0
		}
		fmt.Fprintf(os.Stderr, "GET %s (try %d/%d): %v\n", url, i, tries, err)
		if i == tries {
			return 1
		}
		time.Sleep(time.Second)
	}
}

func getOnce(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(body), nil
}
