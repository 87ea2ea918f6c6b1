package broker

// PropKeyForTest exposes the key property name to the external tests.
const PropKeyForTest = propKey
