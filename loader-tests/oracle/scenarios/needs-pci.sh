# needs-pci: a PCI driver with no device: the real kernel registers it; kload does not emulate PCI. Fresh boot.
insmod needs-pci.ko
rmmod needs_pci
