// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PCI driver for the PCI NPU. ivshmem's id is shared with any other
 * use of ivshmem, so a device is taken only when its window carries the
 * NPU's magic and version; then the NPU is set up as every NPU is
 * (npu_device_probe) with the PCI hw ops.
 */
#include <drm/drm_drv.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>
#include <linux/dma-mapping.h>
#include <linux/pci.h>

#include "npu_pcidev.h"

#define IVSHMEM_BAR_REGS	0
#define IVSHMEM_BAR_WINDOW	2
/* PCI NPUs are named after the emulated ones: npu16, npu17, ... */
#define NPU_PCI_FIRST_ID	NPU_MAX_DEVICES

static DEFINE_IDA(npu_pci_ids);
static atomic_t npu_pci_bound = ATOMIC_INIT(0);

static int npu_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct npu_device *ndev;
	struct npu_pci *np;
	u32 magic, version, n_cores;
	int ret, nid;

	if (PAGE_SIZE != 4096) {
		dev_err(&pdev->dev, "the PCI NPU's MMU has 4 KiB pages; this kernel's are %lu\n",
			PAGE_SIZE);
		return -ENODEV;
	}
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	if (pci_resource_len(pdev, IVSHMEM_BAR_WINDOW) < NPU_PCI_WINDOW_SIZE ||
	    !(pci_resource_flags(pdev, IVSHMEM_BAR_WINDOW) & IORESOURCE_MEM)) {
		dev_info(&pdev->dev, "ivshmem device without an NPU window: not an NPU\n");
		return -ENODEV;
	}
	ret = pcim_iomap_regions(pdev, BIT(IVSHMEM_BAR_REGS) | BIT(IVSHMEM_BAR_WINDOW), "npu");
	if (ret)
		return ret;
	magic = ioread32(pcim_iomap_table(pdev)[IVSHMEM_BAR_WINDOW] + NPU_PCI_ID);
	version = ioread32(pcim_iomap_table(pdev)[IVSHMEM_BAR_WINDOW] + NPU_PCI_VER);
	if (magic != NPU_PCI_MAGIC) {
		dev_info(&pdev->dev, "ivshmem device whose window holds %#x: not an NPU (or its daemon is not up)\n",
			 magic);
		return -ENODEV;
	}
	if (version != NPU_PCI_VERSION) {
		dev_err(&pdev->dev, "NPU window version %u; this driver knows %u\n", version,
			NPU_PCI_VERSION);
		return -ENODEV;
	}
	n_cores = ioread32(pcim_iomap_table(pdev)[IVSHMEM_BAR_WINDOW] + NPU_PCI_CORE_COUNT);
	if (n_cores < 1 || n_cores > NPU_PCI_MAX_CORES) {
		dev_err(&pdev->dev, "NPU reports %u cores (1..%d)\n", n_cores, NPU_PCI_MAX_CORES);
		return -ENODEV;
	}
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(52));
	if (ret)
		return ret;
	ret = pci_alloc_irq_vectors(pdev, NPU_PCI_VECTORS, NPU_PCI_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0) {
		dev_err(&pdev->dev, "no %d MSI-X vectors (%d)\n", NPU_PCI_VECTORS, ret);
		return ret;
	}
	pci_set_master(pdev);

	nid = ida_alloc_range(&npu_pci_ids, NPU_PCI_FIRST_ID, INT_MAX, GFP_KERNEL);
	if (nid < 0) {
		ret = nid;
		goto err_irq;
	}
	ndev = npu_device_alloc(&pdev->dev);
	if (IS_ERR(ndev)) {
		ret = PTR_ERR(ndev);
		goto err_id;
	}
	/* Open files may outlive the binding, and their contexts reach this. */
	np = drmm_kzalloc(&ndev->drm, sizeof(*np), GFP_KERNEL);
	if (!np) {
		ret = -ENOMEM;
		goto err_id;
	}
	np->pdev = pdev;
	np->ndev = ndev;
	np->regs = pcim_iomap_table(pdev)[IVSHMEM_BAR_REGS];
	np->win = pcim_iomap_table(pdev)[IVSHMEM_BAR_WINDOW];
	np->peer = ioread32(np->win + NPU_PCI_PEER) & 0xffff;
	mutex_init(&np->cmd_lock);
	init_waitqueue_head(&np->ack_wq);
	INIT_DELAYED_WORK(&np->watchdog, npu_pci_watchdog);
	ida_init(&np->slots);
	for (ret = 0; ret < NPU_PCI_MAX_CORES; ret++) {
		np->cores[ret].np = np;
		np->cores[ret].core = &ndev->cores[ret];
		spin_lock_init(&np->cores[ret].lock);
		mutex_init(&np->cores[ret].deliver_lock);
	}
	ndev->hw_priv = np;
	pci_set_drvdata(pdev, ndev);
	ret = npu_device_probe(ndev, &npu_pci_hw_ops, nid, n_cores);
	if (ret)
		goto err_id;
	atomic_inc(&npu_pci_bound);
	return 0;

err_id:
	ida_free(&npu_pci_ids, nid);
err_irq:
	pci_free_irq_vectors(pdev);
	return ret;
}

static void npu_pci_remove(struct pci_dev *pdev)
{
	struct npu_device *ndev = pci_get_drvdata(pdev);

	npu_device_remove(ndev);
	ida_free(&npu_pci_ids, ndev->id);
	pci_free_irq_vectors(pdev);
	atomic_dec(&npu_pci_bound);
}

/* Reboot or kexec: the device stops writing into this kernel's memory. */
static void npu_pci_shutdown_dev(struct pci_dev *pdev)
{
	struct npu_device *ndev = pci_get_drvdata(pdev);

	if (ndev)
		npu_pci_quiesce(ndev->hw_priv);
}

static const struct pci_device_id npu_pci_ids_table[] = {
	{ PCI_DEVICE(NPU_PCI_VENDOR, NPU_PCI_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, npu_pci_ids_table);

static struct pci_driver npu_pci_driver = {
	.name = "npu-pci",
	.id_table = npu_pci_ids_table,
	.probe = npu_pci_probe,
	.remove = npu_pci_remove,
	.shutdown = npu_pci_shutdown_dev,
	.dev_groups = npu_dev_groups,
};

int npu_pci_register(void)
{
	return pci_register_driver(&npu_pci_driver);
}

void npu_pci_unregister(void)
{
	pci_unregister_driver(&npu_pci_driver);
}

/* PCI NPUs bound now (npu_init decides whether to add emulated ones). */
int npu_pci_count(void)
{
	return atomic_read(&npu_pci_bound);
}
