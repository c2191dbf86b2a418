// Command synapse is the Pulumi program that deploys Synapse with workers on
// Kubernetes. Everything is in package stack, so that tests run the same
// program under mocks.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/stack"
)

func main() {
	pulumi.Run(stack.Deploy)
}
