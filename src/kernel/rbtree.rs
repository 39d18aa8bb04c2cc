//! Red-black trees (lib/rbtree.c): the exported rebalancing and walking
//! functions, operating in place on the module's nodes in low memory.
//!
//! A `struct rb_node` is `{ __rb_parent_color, rb_right, rb_left }` (offsets
//! from the profile); the parent pointer and the colour share the first word
//! (bit 0: 1 = black, 0 = red), and a node whose parent word points at
//! itself is "empty" (`RB_CLEAR_NODE`). `struct rb_root` is one pointer, so
//! its `rb_node` is at offset 0. Modules link nodes in with the inline
//! `rb_link_node` (a red node under its parent) and then call
//! `rb_insert_color`; `rb_first_cached`, `rb_entry` and friends are inline
//! and read the same words, so the trees here must be exactly the kernel's:
//! the rebalancing below follows the classic algorithm case for case
//! (recolouring, then at most two rotations on insert, three on erase), which
//! gives the same shape as the kernel's for the same sequence of calls.
//!
//! The augmented variants (`__rb_insert_augmented`, `__rb_erase_color`) call
//! the module's `rotate` callback at each rotation, as the kernel does;
//! the copy and propagate callbacks of an augmented erase are inline in the
//! module (`rb_erase_augmented`), which only calls `__rb_erase_color`.

use super::string::{read, write};
use super::symbols::Registry;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;

const BLACK: u64 = 1;
const RED: u64 = 0;

/// A side of a node: `Left` or `Right`; `flip` gives the mirror.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

impl Side {
    fn flip(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }
}

/// One call's view of the tree: the field offsets of this kernel, the
/// stub's name for reports, and the module's rotate callback, if any.
struct Tree {
    func: &'static str,
    pc: u64,
    right: u64,
    left: u64,
    /// `augment_rotate(old, new)`, a module function (augmented trees).
    rotate: Option<u64>,
}

/// `None`: a bad access, already reported (the task is dying).
type R<T> = Option<T>;

impl Tree {
    fn new(func: &'static str, rotate: Option<u64>) -> R<Tree> {
        let k = task::current_kernel()?;
        let p = k.profile;
        Some(Tree {
            func,
            pc: p.field("rb_node.__rb_parent_color").ok()?,
            right: p.field("rb_node.rb_right").ok()?,
            left: p.field("rb_node.rb_left").ok()?,
            rotate,
        })
    }

    fn rd(&self, addr: u64) -> R<u64> {
        let b = read(self.func, "an rb_node", addr, 8)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }

    fn wr(&self, addr: u64, v: u64) -> R<()> {
        write(self.func, "an rb_node", addr, &v.to_le_bytes()).then_some(())
    }

    fn side_off(&self, s: Side) -> u64 {
        match s {
            Side::Left => self.left,
            Side::Right => self.right,
        }
    }

    fn child(&self, n: u64, s: Side) -> R<u64> {
        self.rd(n + self.side_off(s))
    }

    fn set_child(&self, n: u64, s: Side, c: u64) -> R<()> {
        self.wr(n + self.side_off(s), c)
    }

    fn pc_of(&self, n: u64) -> R<u64> {
        self.rd(n + self.pc)
    }

    fn parent(&self, n: u64) -> R<u64> {
        Some(self.pc_of(n)? & !3)
    }

    fn is_black(&self, n: u64) -> R<bool> {
        Some(self.pc_of(n)? & 1 == BLACK)
    }

    /// A NULL child counts as black.
    fn is_red(&self, n: u64) -> R<bool> {
        if n == 0 {
            return Some(false);
        }
        Some(!self.is_black(n)?)
    }

    fn set_parent(&self, n: u64, p: u64) -> R<()> {
        let pc = self.pc_of(n)?;
        self.wr(n + self.pc, (pc & 1) | p)
    }

    fn set_parent_color(&self, n: u64, p: u64, color: u64) -> R<()> {
        self.wr(n + self.pc, p | color)
    }

    fn set_black(&self, n: u64) -> R<()> {
        let pc = self.pc_of(n)?;
        self.wr(n + self.pc, pc | BLACK)
    }

    /// Make `new` take `old`'s place under `parent` (or at the root).
    fn change_child(&self, old: u64, new: u64, parent: u64, root: u64) -> R<()> {
        if parent == 0 {
            return self.wr(root, new);
        }
        if self.child(parent, Side::Left)? == old {
            self.set_child(parent, Side::Left, new)
        } else {
            self.set_child(parent, Side::Right, new)
        }
    }

    /// After a rotation: `new` gets `old`'s parent and colour, `old` hangs
    /// under `new` with `color`.
    fn rotate_set_parents(&self, old: u64, new: u64, root: u64, color: u64) -> R<()> {
        let pc = self.pc_of(old)?;
        self.wr(new + self.pc, pc)?;
        self.set_parent_color(old, new, color)?;
        self.change_child(old, new, pc & !3, root)
    }

    fn augment_rotate(&self, old: u64, new: u64) -> R<()> {
        if let Some(f) = self.rotate {
            task::call_module(f, [old, new, 0, 0, 0, 0]).ok()?;
        }
        Some(())
    }

    /// `__rb_insert`: `node` was linked in red under its parent.
    fn insert(&self, mut node: u64, root: u64) -> R<()> {
        // A red node's parent word is its parent pointer.
        let mut parent = self.pc_of(node)?;
        loop {
            if parent == 0 {
                // The root is black.
                return self.set_parent_color(node, 0, BLACK);
            }
            if self.is_black(parent)? {
                return Some(());
            }
            // The parent is red, so not the root: the grandparent exists.
            let gparent = self.pc_of(parent)?;
            let side = if self.child(gparent, Side::Right)? == parent {
                Side::Right
            } else {
                Side::Left
            };
            let uncle = self.child(gparent, side.flip())?;
            if self.is_red(uncle)? {
                // Case 1: recolour and go up.
                self.set_parent_color(uncle, gparent, BLACK)?;
                self.set_parent_color(parent, gparent, BLACK)?;
                node = gparent;
                parent = self.parent(node)?;
                self.set_parent_color(node, parent, RED)?;
                continue;
            }
            let mut tmp = self.child(parent, side.flip())?;
            if node == tmp {
                // Case 2: the inner grandchild; rotate it outside at parent.
                tmp = self.child(node, side)?;
                self.set_child(parent, side.flip(), tmp)?;
                self.set_child(node, side, parent)?;
                if tmp != 0 {
                    self.set_parent_color(tmp, parent, BLACK)?;
                }
                self.set_parent_color(parent, node, RED)?;
                self.augment_rotate(parent, node)?;
                parent = node;
                tmp = self.child(node, side.flip())?;
            }
            // Case 3: rotate at the grandparent.
            self.set_child(gparent, side, tmp)?;
            self.set_child(parent, side.flip(), gparent)?;
            if tmp != 0 {
                self.set_parent_color(tmp, gparent, BLACK)?;
            }
            self.rotate_set_parents(gparent, parent, root, RED)?;
            self.augment_rotate(gparent, parent)?;
            return Some(());
        }
    }

    /// `____rb_erase_color`: restore the black height below `parent`,
    /// whose `node` side (NULL at first) lost a black node.
    fn erase_color(&self, mut parent: u64, root: u64) -> R<()> {
        let mut node = 0u64;
        loop {
            // The side of `node`; the sibling is on the other side.
            let side = if self.child(parent, Side::Right)? == node {
                Side::Right
            } else {
                Side::Left
            };
            let far = side.flip();
            let mut sibling = self.child(parent, far)?;
            if self.is_red(sibling)? {
                // Case 1: rotate the red sibling up.
                let tmp1 = self.child(sibling, side)?;
                self.set_child(parent, far, tmp1)?;
                self.set_child(sibling, side, parent)?;
                self.set_parent_color(tmp1, parent, BLACK)?;
                self.rotate_set_parents(parent, sibling, root, RED)?;
                self.augment_rotate(parent, sibling)?;
                sibling = tmp1;
            }
            let mut tmp1 = self.child(sibling, far)?;
            if !self.is_red(tmp1)? {
                let tmp2 = self.child(sibling, side)?;
                if !self.is_red(tmp2)? {
                    // Case 2: the sibling goes red; fix at the parent.
                    self.set_parent_color(sibling, parent, RED)?;
                    if self.is_red(parent)? {
                        self.set_black(parent)?;
                    } else {
                        node = parent;
                        parent = self.parent(node)?;
                        if parent != 0 {
                            continue;
                        }
                    }
                    return Some(());
                }
                // Case 3: rotate the sibling's near red child up.
                tmp1 = self.child(tmp2, far)?;
                self.set_child(sibling, side, tmp1)?;
                self.set_child(tmp2, far, sibling)?;
                self.set_child(parent, far, tmp2)?;
                if tmp1 != 0 {
                    self.set_parent_color(tmp1, sibling, BLACK)?;
                }
                self.augment_rotate(sibling, tmp2)?;
                tmp1 = sibling;
                sibling = tmp2;
            }
            // Case 4: rotate at the parent, recolour.
            let tmp2 = self.child(sibling, side)?;
            self.set_child(parent, far, tmp2)?;
            self.set_child(sibling, side, parent)?;
            self.set_parent_color(tmp1, sibling, BLACK)?;
            if tmp2 != 0 {
                self.set_parent(tmp2, parent)?;
            }
            self.rotate_set_parents(parent, sibling, root, BLACK)?;
            self.augment_rotate(parent, sibling)?;
            return Some(());
        }
    }

    /// `__rb_erase_augmented` without callbacks: unlink `node`; returns the
    /// node to rebalance from (0 when the tree is already balanced).
    fn erase_unlink(&self, node: u64, root: u64) -> R<u64> {
        let child = self.child(node, Side::Right)?;
        let left = self.child(node, Side::Left)?;
        if left == 0 {
            // At most one (right) child, which must be red with no children.
            let pc = self.pc_of(node)?;
            let parent = pc & !3;
            self.change_child(node, child, parent, root)?;
            if child != 0 {
                self.wr(child + self.pc, pc)?;
                return Some(0);
            }
            return Some(if pc & 1 == BLACK { parent } else { 0 });
        }
        if child == 0 {
            // Only a left child: red, and node is black.
            let pc = self.pc_of(node)?;
            self.wr(left + self.pc, pc)?;
            self.change_child(node, left, pc & !3, root)?;
            return Some(0);
        }
        // Two children: the in-order successor takes node's place.
        let mut successor = child;
        let parent;
        let child2;
        let mut tmp = self.child(child, Side::Left)?;
        if tmp == 0 {
            // The right child is the successor.
            parent = successor;
            child2 = self.child(successor, Side::Right)?;
        } else {
            let mut p;
            loop {
                p = successor;
                successor = tmp;
                tmp = self.child(tmp, Side::Left)?;
                if tmp == 0 {
                    break;
                }
            }
            parent = p;
            child2 = self.child(successor, Side::Right)?;
            self.set_child(parent, Side::Left, child2)?;
            self.set_child(successor, Side::Right, child)?;
            self.set_parent(child, successor)?;
        }
        self.set_child(successor, Side::Left, left)?;
        self.set_parent(left, successor)?;
        let pc = self.pc_of(node)?;
        self.change_child(node, successor, pc & !3, root)?;
        let pc2 = self.pc_of(successor)?;
        self.wr(successor + self.pc, pc)?;
        if child2 != 0 {
            self.set_parent_color(child2, parent, BLACK)?;
            Some(0)
        } else {
            Some(if pc2 & 1 == BLACK { parent } else { 0 })
        }
    }

    fn erase(&self, node: u64, root: u64) -> R<()> {
        let rebalance = self.erase_unlink(node, root)?;
        if rebalance != 0 {
            self.erase_color(rebalance, root)?;
        }
        Some(())
    }

    /// The leftmost (or rightmost) node below `n`.
    fn extreme(&self, mut n: u64, s: Side) -> R<u64> {
        loop {
            let c = self.child(n, s)?;
            if c == 0 {
                return Some(n);
            }
            n = c;
        }
    }

    fn first(&self, root: u64, s: Side) -> R<u64> {
        let n = self.rd(root)?;
        if n == 0 {
            return Some(0);
        }
        self.extreme(n, s)
    }

    /// `rb_next` (`s` = Right) and `rb_prev` (`s` = Left).
    fn step(&self, mut node: u64, s: Side) -> R<u64> {
        let pc = self.pc_of(node)?;
        if pc == node {
            // RB_EMPTY_NODE
            return Some(0);
        }
        let c = self.child(node, s)?;
        if c != 0 {
            return self.extreme(c, s.flip());
        }
        loop {
            let parent = self.parent(node)?;
            if parent == 0 || self.child(parent, s)? != node {
                return Some(parent);
            }
            node = parent;
        }
    }

    fn left_deepest(&self, mut n: u64) -> R<u64> {
        loop {
            let l = self.child(n, Side::Left)?;
            if l != 0 {
                n = l;
                continue;
            }
            let r = self.child(n, Side::Right)?;
            if r != 0 {
                n = r;
                continue;
            }
            return Some(n);
        }
    }

    fn next_postorder(&self, node: u64) -> R<u64> {
        if node == 0 {
            return Some(0);
        }
        let parent = self.parent(node)?;
        if parent != 0 && self.child(parent, Side::Left)? == node {
            let r = self.child(parent, Side::Right)?;
            if r != 0 {
                return self.left_deepest(r);
            }
        }
        Some(parent)
    }

    fn replace(&self, victim: u64, new: u64, root: u64) -> R<()> {
        let pc = self.pc_of(victim)?;
        let right = self.child(victim, Side::Right)?;
        let left = self.child(victim, Side::Left)?;
        // Copy the node's words to the replacement (`*new = *victim`).
        self.wr(new + self.pc, pc)?;
        self.set_child(new, Side::Right, right)?;
        self.set_child(new, Side::Left, left)?;
        if left != 0 {
            self.set_parent(left, new)?;
        }
        if right != 0 {
            self.set_parent(right, new)?;
        }
        self.change_child(victim, new, pc & !3, root)
    }
}

fn run(func: &'static str, rotate: Option<u64>, f: impl FnOnce(&Tree) -> R<u64>) -> u64 {
    Tree::new(func, rotate).and_then(|t| f(&t)).unwrap_or(0)
}

/// `void rb_insert_color(struct rb_node *, struct rb_root *)`.
fn sys_rb_insert_color(a: &mut CallArgs) -> u64 {
    run("rb_insert_color", None, |t| {
        t.insert(a.arg(0), a.arg(1)).map(|_| 0)
    })
}

/// `void __rb_insert_augmented(node, root, augment_rotate)`.
fn sys_rb_insert_augmented(a: &mut CallArgs) -> u64 {
    run("__rb_insert_augmented", Some(a.arg(2)), |t| {
        t.insert(a.arg(0), a.arg(1)).map(|_| 0)
    })
}

/// `void rb_erase(struct rb_node *, struct rb_root *)`.
fn sys_rb_erase(a: &mut CallArgs) -> u64 {
    run("rb_erase", None, |t| t.erase(a.arg(0), a.arg(1)).map(|_| 0))
}

/// `void __rb_erase_color(parent, root, augment_rotate)`.
fn sys_rb_erase_color(a: &mut CallArgs) -> u64 {
    run("__rb_erase_color", Some(a.arg(2)), |t| {
        t.erase_color(a.arg(0), a.arg(1)).map(|_| 0)
    })
}

fn sys_rb_first(a: &mut CallArgs) -> u64 {
    run("rb_first", None, |t| t.first(a.arg(0), Side::Left))
}

fn sys_rb_last(a: &mut CallArgs) -> u64 {
    run("rb_last", None, |t| t.first(a.arg(0), Side::Right))
}

fn sys_rb_next(a: &mut CallArgs) -> u64 {
    run("rb_next", None, |t| t.step(a.arg(0), Side::Right))
}

fn sys_rb_prev(a: &mut CallArgs) -> u64 {
    run("rb_prev", None, |t| t.step(a.arg(0), Side::Left))
}

/// `rb_replace_node(victim, new, root)` and its RCU twin (one CPU, no
/// concurrent readers: the same stores in the same order suffice).
fn sys_rb_replace_node(a: &mut CallArgs) -> u64 {
    run("rb_replace_node", None, |t| {
        t.replace(a.arg(0), a.arg(1), a.arg(2)).map(|_| 0)
    })
}

fn sys_rb_first_postorder(a: &mut CallArgs) -> u64 {
    run("rb_first_postorder", None, |t| {
        let n = t.rd(a.arg(0))?;
        if n == 0 {
            return Some(0);
        }
        t.left_deepest(n)
    })
}

fn sys_rb_next_postorder(a: &mut CallArgs) -> u64 {
    run("rb_next_postorder", None, |t| t.next_postorder(a.arg(0)))
}

pub(super) fn register(r: &mut Registry) {
    r.func("rb_insert_color", sys_rb_insert_color);
    r.func("__rb_insert_augmented", sys_rb_insert_augmented);
    r.func("rb_erase", sys_rb_erase);
    r.func("__rb_erase_color", sys_rb_erase_color);
    r.func("rb_first", sys_rb_first);
    r.func("rb_last", sys_rb_last);
    r.func("rb_next", sys_rb_next);
    r.func("rb_prev", sys_rb_prev);
    r.func("rb_replace_node", sys_rb_replace_node);
    r.func("rb_replace_node_rcu", sys_rb_replace_node);
    r.func("rb_first_postorder", sys_rb_first_postorder);
    r.func("rb_next_postorder", sys_rb_next_postorder);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::task::run_task;
    use crate::kernel::Kernel;
    use crate::mm::{LowRegion, Prot};
    use crate::profile::PROFILES;

    /// Nodes are 32 bytes apart in one region: node i at base + 64 + 32*i,
    /// its key is i; the root pointer is at base.
    struct Fixture {
        region: LowRegion,
    }

    impl Fixture {
        fn node(&self, i: u64) -> u64 {
            self.region.addr() + 64 + 32 * i
        }
        fn key(&self, n: u64) -> u64 {
            (n - self.region.addr() - 64) / 32
        }
        fn root(&self) -> u64 {
            self.region.addr()
        }
        /// The module's part: walk down, `rb_link_node`, then insert.
        fn insert(&self, t: &Tree, i: u64) {
            let (mut parent, mut link) = (0, self.root());
            let mut cur = t.rd(link).unwrap();
            while cur != 0 {
                parent = cur;
                let s = if i < self.key(cur) {
                    Side::Left
                } else {
                    Side::Right
                };
                link = cur + t.side_off(s);
                cur = t.rd(link).unwrap();
            }
            let n = self.node(i);
            t.wr(n + t.pc, parent).unwrap();
            t.set_child(n, Side::Left, 0).unwrap();
            t.set_child(n, Side::Right, 0).unwrap();
            t.wr(link, n).unwrap();
            t.insert(n, self.root()).unwrap();
        }
        /// Check the red-black rules below `n`; returns the black height.
        fn check(&self, t: &Tree, n: u64, parent: u64) -> u32 {
            if n == 0 {
                return 1;
            }
            assert_eq!(t.parent(n).unwrap(), parent, "parent link");
            let (l, r) = (
                t.child(n, Side::Left).unwrap(),
                t.child(n, Side::Right).unwrap(),
            );
            if t.is_red(n).unwrap() {
                assert!(!t.is_red(l).unwrap() && !t.is_red(r).unwrap(), "red-red");
            }
            let (hl, hr) = (self.check(t, l, n), self.check(t, r, n));
            assert_eq!(hl, hr, "black height");
            hl + u32::from(t.is_black(n).unwrap())
        }
        fn in_order(&self, t: &Tree) -> Vec<u64> {
            let mut v = Vec::new();
            let mut n = t.first(self.root(), Side::Left).unwrap();
            while n != 0 {
                v.push(self.key(n));
                n = t.step(n, Side::Right).unwrap();
            }
            v
        }
    }

    #[test]
    fn insert_and_erase_keep_a_red_black_tree() {
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            run_task(&k, "test", || {
                let f = Fixture {
                    region: LowRegion::alloc(64 + 32 * 300, Prot::ReadWrite, "test").unwrap(),
                };
                let t = Tree::new("test", None).unwrap();
                let mut keys: Vec<u64> = (0..300).map(|i| (i * 7919) % 300).collect();
                for &i in &keys {
                    f.insert(&t, i);
                    let root = t.rd(f.root()).unwrap();
                    assert!(t.is_black(root).unwrap());
                    f.check(&t, root, 0);
                }
                assert_eq!(f.in_order(&t), (0..300).collect::<Vec<_>>());
                // Backwards, too.
                let mut back = Vec::new();
                let mut n = t.first(f.root(), Side::Right).unwrap();
                while n != 0 {
                    back.push(f.key(n));
                    n = t.step(n, Side::Left).unwrap();
                }
                assert_eq!(back, (0..300).rev().collect::<Vec<_>>());
                // Post-order visits every node, children before parents.
                let mut seen = std::collections::HashSet::new();
                let mut n = t.left_deepest(t.rd(f.root()).unwrap()).unwrap();
                while n != 0 {
                    for s in [Side::Left, Side::Right] {
                        let c = t.child(n, s).unwrap();
                        assert!(c == 0 || seen.contains(&c));
                    }
                    seen.insert(n);
                    n = t.next_postorder(n).unwrap();
                }
                assert_eq!(seen.len(), 300);
                // Erase every other key in a scrambled order.
                keys.retain(|k| k % 2 == 0);
                for &i in &keys {
                    t.erase(f.node(i), f.root()).unwrap();
                    let root = t.rd(f.root()).unwrap();
                    f.check(&t, root, 0);
                }
                assert_eq!(
                    f.in_order(&t),
                    (0..300).filter(|k| k % 2 == 1).collect::<Vec<_>>()
                );
                // Replace node 1 by node 0 (same key position).
                t.replace(f.node(1), f.node(0), f.root()).unwrap();
                assert_eq!(f.in_order(&t)[..2], [0, 3]);
                for i in (0..300).filter(|k| k % 2 == 1 && *k != 1) {
                    t.erase(f.node(i), f.root()).unwrap();
                }
                t.erase(f.node(0), f.root()).unwrap();
                assert_eq!(t.rd(f.root()).unwrap(), 0);
            })
            .unwrap();
        }
    }
}
