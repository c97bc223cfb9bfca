package testenv

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

func TestStartAzurite(t *testing.T) {
	a := StartAzurite(t)
	for _, u := range []string{a.BlobURL, a.QueueURL} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/"+AzuriteAccount) {
			t.Fatalf("service URL %q is not http://127.0.0.1:PORT/%s", u, AzuriteAccount)
		}
	}
	// An unsigned request is refused: Azurite checks the shared key.
	resp, err := http.Get(a.QueueURL + "?comp=list")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned list queues: status %d, want 403", resp.StatusCode)
	}

	svc, err := azqueue.NewServiceClientFromConnectionString(a.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.CreateQueue(ctx, "probe", nil); err != nil {
		t.Fatalf("create queue: %v", err)
	}
	q := svc.NewQueueClient("probe")
	if _, err := q.EnqueueMessage(ctx, "hello", nil); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	got, err := q.DequeueMessage(ctx, nil)
	if err != nil {
		t.Fatalf("dequeue: %v", err)
	}
	if len(got.Messages) != 1 || *got.Messages[0].MessageText != "hello" || *got.Messages[0].DequeueCount != 1 {
		t.Fatalf("dequeued %+v, want one message \"hello\" dequeued once", got.Messages)
	}
}
