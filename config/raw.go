package config

// The raw* types mirror the stack config as users write it. Pointers tell
// "unset" (take the default) from "set to the zero value" (validate it).
// They are decoded with DisallowUnknownFields: the Pulumi CLI's own schema
// check does not catch a misspelt key inside an object.

type rawResourceList struct {
	CPU    *string `json:"cpu"`
	Memory *string `json:"memory"`
}

type rawResources struct {
	Requests *rawResourceList `json:"requests"`
	Limits   *rawResourceList `json:"limits"`
}

type rawPool struct {
	Replicas    *int          `json:"replicas"`
	MinReplicas *int          `json:"minReplicas"`
	MaxReplicas *int          `json:"maxReplicas"`
	Autoscale   *bool         `json:"autoscale"`
	Resources   *rawResources `json:"resources"`
}

type rawFederation struct {
	Enabled *bool `json:"enabled"`
	Senders *int  `json:"senders"`
}

type rawStorage struct {
	Size         *string `json:"size"`
	StorageClass *string `json:"storageClass"`
}

type rawDatabasePool struct {
	Min *int `json:"min"`
	Max *int `json:"max"`
}

type rawPostgres struct {
	Instances            *int        `json:"instances"`
	Storage              *rawStorage `json:"storage"`
	InstallOperator      *bool       `json:"installOperator"`
	OperatorChartVersion *string     `json:"operatorChartVersion"`
	Image                *string     `json:"image"`
}

type rawRedis struct {
	Image *string `json:"image"`
}

type rawMinIO struct {
	Enabled     *bool       `json:"enabled"`
	Replicas    *int        `json:"replicas"`
	Storage     *rawStorage `json:"storage"`
	Bucket      *string     `json:"bucket"`
	Image       *string     `json:"image"`
	ClientImage *string     `json:"clientImage"`
}

type rawHAProxy struct {
	Replicas *int    `json:"replicas"`
	Image    *string `json:"image"`
}

type rawIngress struct {
	Enabled       *bool             `json:"enabled"`
	ClassName     *string           `json:"className"`
	Host          *string           `json:"host"`
	TLSSecretName *string           `json:"tlsSecretName"`
	Annotations   map[string]string `json:"annotations"`
}

type rawMonitoring struct {
	Enabled   *bool   `json:"enabled"`
	Namespace *string `json:"namespace"`
}
