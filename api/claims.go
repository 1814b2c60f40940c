package api

// ParamDeleteData is the query parameter of DELETE on a claim
// (/api/v1/namespaces/NS/persistentvolumeclaims/NAME): true has its node
// remove the claim's directory; false keeps it unless the claim's
// reclaimPolicy is Delete.
const ParamDeleteData = "deleteData"
