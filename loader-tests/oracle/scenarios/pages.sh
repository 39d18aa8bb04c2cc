# pages: alloc_pages of order 0, 2 (zeroed) and a compound order 1,
# page_address and the struct page arithmetic, get_page/put_page,
# __get_free_pages, get_zeroed_page, free_pages, is_vmalloc_addr; then
# bug=1, which leaks an order-1 allocation (the real kernel says nothing;
# kload's leak report is its own). The double free of bug=2 is kload's own
# check: the real kernel corrupts its free lists, so it is not recorded.
# Fresh boot.
insmod pages.ko
rmmod pages
insmod pages.ko bug=1
rmmod pages
