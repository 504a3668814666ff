// A step's config as a form generated from its plugin's JSON Schema (rjsf),
// validated by the cfworker validator; the host's 422 errors on `config.*`
// fields are shown on the fields they name.

import { memo, useMemo } from 'react';
import Form from '@rjsf/core/lib/components/Form.js';
import {
  ariaDescribedByIds,
  enumOptionsIndexForValue,
  enumOptionsValueForIndex,
  type ErrorSchema,
  type IconButtonProps,
  type RJSFSchema,
  type UiSchema,
  type WidgetProps,
} from '@rjsf/utils';
import type { FieldError, JsonObject } from '../api/types';
import { validator } from './validator';

interface Props {
  stepId: string;
  schema: JsonObject;
  targets: string[];
  stepIds: string[];
  value: JsonObject;
  serverErrors: FieldError[];
  onChange: (config: JsonObject) => void;
}

type S = Record<string, unknown>;

/** The schema as the form shows it: target fields become a choice of steps. */
function formSchema(schema: JsonObject, targets: string[], stepIds: string[], value: JsonObject): RJSFSchema {
  const s: S = { ...(schema as S) };
  delete s.title;
  delete s.$schema;
  const props = { ...((s.properties as Record<string, S | boolean>) ?? {}) };
  for (const [key, raw] of Object.entries(props)) {
    const prop: S = raw === true ? {} : raw === false ? { not: {} } : { ...raw };
    if (targets.includes(key) || prop['x-weft-target'] === true) {
      props[key] = {
        type: 'string',
        title: prop.title ?? key,
        description: prop.description,
        enum: [...stepIds, 'end'],
      };
      continue;
    }
    const typeless = prop.type === undefined && !prop.$ref && !prop.anyOf && !prop.oneOf && !prop.enum && !('const' in prop);
    if (typeless) {
      const v = value[key];
      delete prop.default;
      const t = v === undefined || v === null || typeof v === 'string' ? 'string' : typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : null;
      if (t) props[key] = { ...prop, type: t };
    }
  }
  if (s.properties) s.properties = props;
  return titleVariants(s) as RJSFSchema;
}

function extraErrors(errors: FieldError[]): ErrorSchema {
  const out: Record<string, unknown> = {};
  for (const e of errors) {
    if (!e.field.startsWith('config')) continue;
    const path = e.field.replace(/^config\.?/, '').split('.').filter(Boolean);
    let node = out as Record<string, unknown>;
    for (const p of path) {
      node[p] = (node[p] as Record<string, unknown>) ?? {};
      node = node[p] as Record<string, unknown>;
    }
    node.__errors = [...((node.__errors as string[]) ?? []), e.message];
  }
  return out as ErrorSchema;
}

/** rjsf's buttons draw icon-font glyphs; these say what they do in words. */
function textButton(label: string) {
  return function TextButton(props: IconButtonProps) {
    const { onClick, disabled, className, title } = props;
    return (
      <button type="button" className={`btn ${className ?? ''}`} onClick={onClick} disabled={disabled} title={title}>
        {label}
      </button>
    );
  };
}

/**
 * rjsf's select, with a name of its own when it picks the kind of value of an
 * `anyOf`/`oneOf` field (rjsf gives that one no label).
 */
function SelectWidget(props: WidgetProps) {
  const { id, options, value, required, disabled, readonly, multiple, autofocus, onChange, onBlur, onFocus, placeholder, label, rawErrors, schema } = props;
  const { enumOptions, enumDisabled, emptyValue } = options;
  const selected = enumOptionsIndexForValue(value, enumOptions, multiple);
  const picker = /__(anyof|oneof)_select$/.test(props.name ?? '') || /__(anyof|oneof)_select$/.test(id);
  const read = (el: HTMLSelectElement) =>
    multiple ? Array.from(el.selectedOptions).map((o) => o.value) : el.value;
  return (
    <select
      id={id}
      name={props.name || id}
      className="form-control"
      multiple={multiple}
      value={selected === undefined ? (multiple ? [] : '') : (selected as string | string[])}
      required={required}
      disabled={disabled || readonly}
      autoFocus={autofocus}
      aria-label={picker ? `${label || 'value'}: kind of value` : undefined}
      aria-invalid={rawErrors?.length ? true : undefined}
      aria-describedby={ariaDescribedByIds(id)}
      onChange={(e) => onChange(enumOptionsValueForIndex(read(e.target), enumOptions, emptyValue))}
      onBlur={(e) => onBlur(id, enumOptionsValueForIndex(read(e.target), enumOptions, emptyValue))}
      onFocus={(e) => onFocus(id, enumOptionsValueForIndex(read(e.target), enumOptions, emptyValue))}
    >
      {!multiple && schema.default === undefined && <option value="">{placeholder ?? ''}</option>}
      {(enumOptions ?? []).map((o, i) => (
        <option key={i} value={String(i)} disabled={enumDisabled?.includes(o.value)}>
          {o.label}
        </option>
      ))}
    </select>
  );
}

const widgets = { SelectWidget };

/** Titles for `anyOf`/`oneOf` variants, from their description or type, so the picker says more than "Option 2". */
function titleVariants(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(titleVariants);
  if (!node || typeof node !== 'object') return node;
  const out: S = {};
  for (const [k, v] of Object.entries(node as S)) out[k] = titleVariants(v);
  for (const key of ['anyOf', 'oneOf']) {
    const list = out[key];
    if (!Array.isArray(list)) continue;
    out[key] = list.map((variant: unknown) => {
      if (!variant || typeof variant !== 'object') return variant;
      const v = variant as S;
      if (v.title) return v;
      const desc = typeof v.description === 'string' ? v.description.replace(/\.$/, '') : '';
      const type = Array.isArray(v.type) ? v.type.join(' or ') : typeof v.type === 'string' ? v.type : 'const' in v ? JSON.stringify(v.const) : '';
      const title = desc && desc.length <= 48 ? desc : type || desc.slice(0, 48);
      return title ? { ...v, title } : v;
    });
  }
  return out;
}

const templates = {
  ButtonTemplates: {
    AddButton: textButton('Add'),
    RemoveButton: textButton('Remove'),
    MoveUpButton: textButton('Up'),
    MoveDownButton: textButton('Down'),
    CopyButton: textButton('Copy'),
  },
};

function StepForm({ stepId, schema, targets, stepIds, value, serverErrors, onChange }: Props) {
  const s = useMemo(() => formSchema(schema, targets, stepIds, value), [schema, targets, stepIds, value]);
  const extra = useMemo(() => extraErrors(serverErrors), [serverErrors]);
  const ui = useMemo<UiSchema>(() => ({ 'ui:submitButtonOptions': { norender: true } }), []);
  return (
    <Form
      key={stepId}
      className="step-form"
      schema={s}
      uiSchema={ui}
      formData={value}
      validator={validator}
      templates={templates}
      widgets={widgets}
      idPrefix={`cfg-${stepId}`}
      liveValidate="onChange"
      showErrorList={false}
      noHtml5Validate
      extraErrors={extra}
      onChange={(e) => onChange((e.formData ?? {}) as JsonObject)}
      onSubmit={() => {}}
    />
  );
}

export default memo(StepForm);
