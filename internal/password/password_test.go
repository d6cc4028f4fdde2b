package password

import (
	"crypto/rand"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

var fast = Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}

func TestHashAndCheck(t *testing.T) {
	h, err := Hash("wonderland", fast, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string", h)
	}
	if ok, err := Check("wonderland", h); !ok || err != nil {
		t.Fatalf("right password: ok=%v err=%v", ok, err)
	}
	if ok, err := Check("wonderlanD", h); ok || err != nil {
		t.Fatalf("wrong password: ok=%v err=%v", ok, err)
	}
	h2, _ := Hash("wonderland", fast, rand.Reader)
	if h2 == h {
		t.Fatal("two hashes of one password share a salt")
	}
	if NeedsRehash(h, fast) || !NeedsRehash(h, DefaultParams()) {
		t.Fatal("NeedsRehash does not follow the parameters")
	}
}

func TestBcryptImport(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Check("s3cret", string(b)); !ok || err != nil {
		t.Fatalf("bcrypt right: ok=%v err=%v", ok, err)
	}
	if ok, err := Check("nope", string(b)); ok || err != nil {
		t.Fatalf("bcrypt wrong: ok=%v err=%v", ok, err)
	}
}

func TestMalformedAndHostileHashes(t *testing.T) {
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=18$m=8192,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		// 4 TiB of memory would take the server down: refused before hashing.
		"$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=8192,t=1000000,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=8192,t=1,p=0$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=8192,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5aw",
	} {
		if ok, err := Check("x", h); ok || err == nil {
			t.Errorf("Check(%q) = %v, %v; want false and an error", h, ok, err)
		}
		if IsArgon2id(h) {
			t.Errorf("IsArgon2id(%q) = true", h)
		}
	}
}

// BenchmarkCheckDefault is one check with the default parameters. Beside
// the wall time it reports the process's CPU time per check (user +
// system, the garbage collector's included) and its minor page faults,
// the figures bench/run reports for the server under load: on a shared
// machine the wall time is what other processes leave, the CPU time much
// less so.
func BenchmarkCheckDefault(b *testing.B) {
	h, _ := Hash("wonderland", DefaultParams(), rand.Reader)
	b.ReportAllocs()
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	for b.Loop() {
		if ok, _ := Check("wonderland", h); !ok {
			b.Fatal("mismatch")
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := syscall.TimevalToNsec(after.Utime) + syscall.TimevalToNsec(after.Stime) -
		syscall.TimevalToNsec(before.Utime) - syscall.TimevalToNsec(before.Stime)
	b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(after.Minflt-before.Minflt)/float64(b.N), "minflt/op")
}
