package e2e

import (
	"strings"
	"testing"
)

// TestClassifyPerfScript checks the split of perf samples into kinds of work on a made-up
// `perf script -F comm,ip,sym,dso` output: the first matching rule wins, leaf-only rules look
// at the leaf only, io_uring's workers count as storage.
func TestClassifyPerfScript(t *testing.T) {
	const script = `floe 
	  75600 github.com/floelabs/floe/internal/blake2bx.hashBlocks16.abi0 (/tmp/floe)
	  76600 github.com/floelabs/floe/redstuff.(*Encoder).SliverHash (/tmp/floe)
	  77600 crypto/tls.(*Conn).Read (/tmp/floe)

floe 
	  75600 crypto/internal/fips140/aes/gcm.gcmAesDec.abi0 (/tmp/floe)
	  77600 crypto/tls.(*Conn).Read (/tmp/floe)
	  78600 net/http.(*connReader).Read (/tmp/floe)

floe 
	ffffffff8225f759 _copy_to_iter ([kernel.kallsyms])
	ffffffff8225f759 tcp_recvmsg ([kernel.kallsyms])
	  77600 crypto/tls.(*Conn).Read (/tmp/floe)

floe 
	  75600 runtime.memmove (/tmp/floe)
	  77600 crypto/tls.(*Conn).Read (/tmp/floe)

iou-wrk-21012 
	ffffffff8225f759 pvm_irq_enable ([kernel.kallsyms])

floe 
	ffffffff8225f759 pvm_irq_enable ([kernel.kallsyms])
	ffffffff8225f759 finish_task_switch.isra.0 ([kernel.kallsyms])

floe 
	ffffffff8225f759 clear_page_erms ([kernel.kallsyms])
	ffffffff8225f759 do_huge_pmd_anonymous_page ([kernel.kallsyms])
	  77600 golang.org/x/sys/unix.Madvise (/tmp/floe)

floe 
	  75600 main.main (/tmp/floe)
`
	p, err := classifyPerfScript(strings.NewReader(script), perfRules())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"verify": 1, "tls-crypto": 1, "socket": 1, "tls-records": 1, "storage": 1, "scheduler": 1, "kernel-other": 1, "other": 1}
	if p.total != 8 {
		t.Errorf("total %d samples, want 8", p.total)
	}
	for k, n := range want {
		if p.samples[k] != n {
			t.Errorf("%s: %d samples, want %d (all: %v)", k, p.samples[k], n, p.samples)
		}
	}
	if got := p.format(8); !strings.HasPrefix(got, "8 samples: ") || !strings.Contains(got, "verify 1.00 (12%)") {
		t.Errorf("format: %q", got)
	}
}
