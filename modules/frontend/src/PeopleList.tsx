import { useId, useRef, type KeyboardEvent } from 'react';
import { fullName, type Person } from './api';

interface Props {
  persons: Person[];
  search: string;
  onSearch: (value: string) => void;
  selectedId: number | null;
  onSelect: (id: number) => void;
}

/** Searchable people list: a listbox with roving focus (Tab in, arrows move, Enter/Space select). */
export function PeopleList({ persons, search, onSearch, selectedId, onSelect }: Props) {
  const searchId = useId();
  const listRef = useRef<HTMLUListElement>(null);
  const needle = search.trim().toLowerCase();
  const shown = needle ? persons.filter((p) => `${fullName(p)} ${p.company_name}`.toLowerCase().includes(needle)) : persons;
  const focusIndex = Math.max(
    0,
    shown.findIndex((p) => p.id === selectedId),
  );

  function onKeyDown(e: KeyboardEvent<HTMLLIElement>, index: number) {
    let next = index;
    if (e.key === 'ArrowDown') next = Math.min(shown.length - 1, index + 1);
    else if (e.key === 'ArrowUp') next = Math.max(0, index - 1);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = shown.length - 1;
    else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect(shown[index]!.id);
      return;
    } else return;
    e.preventDefault();
    const target = shown[next];
    if (!target) return;
    onSelect(target.id);
    listRef.current?.querySelectorAll<HTMLElement>('[role="option"]')[next]?.focus();
  }

  return (
    <section className="people" aria-labelledby="people-heading">
      <h2 id="people-heading">People</h2>
      <label htmlFor={searchId}>Search people</label>
      <input id={searchId} type="search" value={search} placeholder="name or company" onChange={(e) => onSearch(e.target.value)} />
      {shown.length === 0 ? (
        <p className="empty">No one matches “{search}”.</p>
      ) : (
        <ul role="listbox" aria-label="People" ref={listRef}>
          {shown.map((p, i) => (
            <li
              key={p.id}
              role="option"
              aria-selected={p.id === selectedId}
              tabIndex={i === focusIndex ? 0 : -1}
              onClick={() => onSelect(p.id)}
              onKeyDown={(e) => onKeyDown(e, i)}
            >
              <span className="name">{fullName(p)}</span>
              <span className="company">{p.company_name}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
