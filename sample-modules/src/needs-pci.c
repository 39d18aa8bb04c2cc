// SPDX-License-Identifier: GPL-2.0
/*
 * needs-pci.c - calls into a subsystem kload does not emulate (PCI), so the
 * load fails with "Unknown symbol"; with --allow-missing the call lands on
 * a trap that names __pci_register_driver.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/pci.h>

static const struct pci_device_id needs_pci_ids[] = {
	{ PCI_DEVICE(0x1234, 0x5678) },
	{ }
};
MODULE_DEVICE_TABLE(pci, needs_pci_ids);

static int needs_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	return 0;
}

static struct pci_driver needs_pci_driver = {
	.name = "needs_pci",
	.id_table = needs_pci_ids,
	.probe = needs_pci_probe,
};

static int __init needs_pci_init(void)
{
	pr_info("needs-pci: registering the driver\n");
	return pci_register_driver(&needs_pci_driver);
}

static void __exit needs_pci_exit(void)
{
	pci_unregister_driver(&needs_pci_driver);
}

module_init(needs_pci_init);
module_exit(needs_pci_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("uses a kernel subsystem kload does not emulate");
